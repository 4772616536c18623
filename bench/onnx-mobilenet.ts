import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { inDeviceBundle } from './harness.js';
import { BLOCKS, correctPad, type NamedWeight } from './peer-mobilenet.js';

/**
 * Builds MobileNetV2 (alpha 1.0, no top) as an ONNX model from the same safetensors weights the
 * other sides load, for the ONNX Runtime peers of the bench: NHWC input [batch, H, W, 3] in
 * [-1, 1] -> out_relu [batch, H/32, W/32, 1280], BatchNorm folded into the convs (epsilon 1e-3),
 * ReLU6 as Clip(0, 6), Keras' asymmetric padding (TF 'SAME' for Conv1, ZeroPadding2D correct_pad
 * before the stride-2 depthwise convs). Opset 17; the protobuf is written here (a few message
 * types of onnx.proto), so the bench needs no Python or ONNX package.
 *
 * Standalone: `npx tsx bench/onnx-mobilenet.ts WEIGHTS.safetensors OUT.onnx [size]`.
 */

// ---- A minimal protobuf writer (proto3 wire format) ----

class Pb {
  private parts: Uint8Array[] = [];
  private n = 0;
  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.n += b.length;
  }
  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      out.push(byte);
    } while (x !== 0n);
    this.push(Uint8Array.from(out));
  }
  int(field: number, v: number): this {
    this.varint((field << 3) | 0);
    this.varint(v);
    return this;
  }
  float(field: number, v: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.done());
  }
  done(): Uint8Array {
    const out = new Uint8Array(this.n);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

// onnx.proto field numbers and enums used below.
const FLOAT = 1;
const INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

type Attr = number | number[] | { float: number };

function attribute(name: string, v: Attr): Pb {
  const a = new Pb().str(1, name);
  if (Array.isArray(v)) {
    for (const x of v) a.int(8, x);
    return a.int(20, ATTR_INTS);
  }
  if (typeof v === 'number') return a.int(3, v).int(20, ATTR_INT);
  return a.float(2, v.float).int(20, ATTR_FLOAT);
}

function tensorProto(name: string, dims: number[], data: Float32Array | BigInt64Array): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  t.int(2, data instanceof Float32Array ? FLOAT : INT64);
  t.str(8, name);
  return t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function valueInfo(name: string, dims: Array<number | string>): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().int(1, FLOAT).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

// ---- The graph ----

class Graph {
  nodes: Pb[] = [];
  inits: Pb[] = [];
  private k = 0;
  init(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    this.inits.push(tensorProto(name, dims, data));
    return name;
  }
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const out = `t${this.k++}`;
    const n = new Pb();
    for (const i of inputs) n.str(1, i);
    n.str(2, out).str(3, `${op}_${this.k}`).str(4, op);
    for (const [name, v] of Object.entries(attrs)) n.msg(5, attribute(name, v));
    this.nodes.push(n);
    return out;
  }
}

/** TF 'SAME' pads [begin, end] of one spatial dim. */
function samePads(size: number, k: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The ONNX model bytes. `weights`: the Keras-named backbone tensors (HWIO kernels,
 * [kh,kw,C,1] depthwise kernels, BatchNorm gamma/beta/moving_mean/moving_variance).
 */
export function mobileNetV2Onnx(weights: ReadonlyMap<string, NamedWeight>, size = 192): Uint8Array {
  const g = new Graph();
  const w = (name: string) => {
    const e = weights.get(name);
    if (!e) throw new Error(`mobileNetV2Onnx: weight '${name}' is missing`);
    return e;
  };
  const zero = g.init('clip_min', [], Float32Array.of(0));
  const six = g.init('clip_max', [], Float32Array.of(6));
  let h = size;
  let wd = size;

  /** Conv + folded BN; `depthwise`: group = channels. Returns the output and its new spatial size. */
  const convBn = (
    x: string,
    kernel: string,
    bn: string,
    o: { stride: number; pads: [number, number, number, number]; depthwise?: boolean; relu6?: boolean },
  ): string => {
    const kw = w(kernel);
    const [kh, kwid, cin, cout0] = kw.shape;
    const cout = o.depthwise ? cin : cout0;
    const gamma = w(`${bn}/gamma`).data;
    const beta = w(`${bn}/beta`).data;
    const mean = w(`${bn}/moving_mean`).data;
    const variance = w(`${bn}/moving_variance`).data;
    const scale = Float32Array.from(gamma, (gm, c) => gm / Math.sqrt(variance[c] + 1e-3));
    const bias = Float32Array.from(beta, (b, c) => b - mean[c] * scale[c]);
    // HWIO -> OIHW ([kh,kw,C,1] -> [C,1,kh,kw] for depthwise), scaled per output channel.
    const inPerGroup = o.depthwise ? 1 : cin;
    const W = new Float32Array(cout * inPerGroup * kh * kwid);
    for (let y = 0; y < kh; y++)
      for (let xx = 0; xx < kwid; xx++)
        for (let i = 0; i < cin; i++)
          for (let oc = 0; oc < cout0; oc++) {
            const src = kw.data[((y * kwid + xx) * cin + i) * cout0 + oc];
            const outC = o.depthwise ? i : oc;
            const inC = o.depthwise ? 0 : i;
            W[((outC * inPerGroup + inC) * kh + y) * kwid + xx] = src * scale[outC];
          }
    const wName = g.init(`${kernel}_folded`, [cout, inPerGroup, kh, kwid], W);
    const bName = g.init(`${kernel}_bias`, [cout], bias);
    const attrs: Record<string, Attr> = {
      kernel_shape: [kh, kwid],
      strides: [o.stride, o.stride],
      pads: o.pads,
      group: o.depthwise ? cin : 1,
    };
    const y = g.node('Conv', [x, wName, bName], attrs);
    h = Math.floor((h + o.pads[0] + o.pads[2] - kh) / o.stride) + 1;
    wd = Math.floor((wd + o.pads[1] + o.pads[3] - kwid) / o.stride) + 1;
    return o.relu6 ? g.node('Clip', [y, zero, six]) : y;
  };

  let x = g.node('Transpose', ['input'], { perm: [0, 3, 1, 2] });
  const [pt, pb] = samePads(h, 3, 2);
  const [pl, pr] = samePads(wd, 3, 2);
  x = convBn(x, 'Conv1/kernel', 'bn_Conv1', { stride: 2, pads: [pt, pl, pb, pr], relu6: true });
  BLOCKS.forEach(([filters, stride, expansion], id) => {
    const input = x;
    const inChannels = id === 0 ? 32 : BLOCKS[id - 1][0];
    let prefix = `block_${id}_`;
    if (id > 0) {
      x = convBn(x, `${prefix}expand/kernel`, `${prefix}expand_BN`, {
        stride: 1,
        pads: [0, 0, 0, 0],
        relu6: true,
      });
    } else prefix = 'expanded_conv_';
    const pads: [number, number, number, number] =
      stride === 2 ? [correctPad(h)[0], correctPad(wd)[0], 1, 1] : [1, 1, 1, 1];
    x = convBn(x, `${prefix}depthwise/depthwise_kernel`, `${prefix}depthwise_BN`, {
      stride,
      pads,
      depthwise: true,
      relu6: true,
    });
    x = convBn(x, `${prefix}project/kernel`, `${prefix}project_BN`, { stride: 1, pads: [0, 0, 0, 0] });
    if (expansion > 0 && inChannels === filters && stride === 1) x = g.node('Add', [input, x]);
  });
  x = convBn(x, 'Conv_1/kernel', 'Conv_1_bn', { stride: 1, pads: [0, 0, 0, 0], relu6: true });
  const out = g.node('Transpose', [x], { perm: [0, 2, 3, 1] });
  // Rename the last output to out_relu with an Identity.
  const graph = new Pb();
  for (const n of g.nodes) graph.msg(1, n);
  graph.msg(1, new Pb().str(1, out).str(2, 'out_relu').str(3, 'out_relu').str(4, 'Identity'));
  graph.str(2, 'mobilenet_v2_1.0_no_top');
  for (const i of g.inits) graph.msg(5, i);
  graph.msg(11, valueInfo('input', ['batch', size, size, 3]));
  graph.msg(12, valueInfo('out_relu', ['batch', h, wd, 1280]));
  return new Pb()
    .int(1, 8)
    .str(2, 'wgsl-nn bench')
    .msg(7, graph)
    .msg(8, new Pb().str(1, '').int(2, 17))
    .done();
}

// Run as a script (not from the device bundle, where every module shares the bundle's URL).
if (!inDeviceBundle() && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [weightsPath, outPath, sizeArg] = process.argv.slice(2);
  if (!weightsPath || !outPath) {
    console.error('usage: npx tsx bench/onnx-mobilenet.ts WEIGHTS.safetensors OUT.onnx [size]');
    process.exit(2);
  }
  const { readSafetensorsFile, toFloat32 } = await import('../src/node.js');
  const parsed = await readSafetensorsFile(weightsPath);
  const weights = new Map<string, NamedWeight>();
  for (const [name, e] of parsed.tensors) weights.set(name, { shape: e.shape, data: toFloat32(e) });
  const bytes = mobileNetV2Onnx(weights, Number(sizeArg ?? 192));
  writeFileSync(outPath, bytes);
  console.log(`wrote ${outPath} (${bytes.length} bytes)`);
}
