import { currentDevice } from '../tensor/device.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { needsGradient } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import type { FoldedConv } from './fold.js';
import { type BindingSpec, defineKernel } from './program.js';
import { reshape } from './reshape.js';
import { assertBindable, assertDTypeIn, assertRank, assertTensor } from './util.js';

/**
 * A fused MobileNetV2 inverted-residual block for inference, stride 1 and a 3x3 'same' depthwise:
 * y = project(relu6(depthwise(relu6(expand(x))))) [+ x], with the batch norms already folded into
 * each step's filter and bias (src/kernels/fold.ts). The expanded activation (E channels, 6x the
 * input's) never goes to memory: a workgroup owns a tile of output pixels; per chunk of `ec`
 * expanded channels it computes the expansion of the tile plus its 1-pixel halo into workgroup
 * memory (zero outside the image: the depthwise's 'same' padding), then the depthwise of the
 * chunk into workgroup memory, then adds the chunk's share of the projection into accumulators
 * held in registers; bias and residual are added at the store. The unfused path writes the
 * expanded activation once and reads it back twice (depthwise in, depthwise out to the project).
 * The price is the halo: the tile's border pixels are expanded by up to four workgroups.
 */

/** Threads per workgroup. */
const WG = 128;
/** Accumulators per thread at most: bounds the tile by the output channels. */
const MAX_ACC = 16;

/**
 * Compile-time shape of the kernel: tile rows and columns, expanded channels per chunk,
 * accumulators per thread, and `vec`: every channel count a multiple of 4, all tensors read as
 * vec4 (then the uniforms CI, E, CO count quads).
 */
type IrKernel = { th: number; tw: number; ec: number; acc: number; residual: boolean; vec: boolean };

const irKernel = defineKernel({
  name: 'inverted_residual',
  bindings: ({ vec }: IrKernel) => {
    const r: BindingSpec = vec ? 'read vec4f' : 'read f32';
    return { x: r, we: r, be: r, wd: r, bd: r, wp: r, bp: r, y: vec ? 'rw vec4f' : 'rw f32' };
  },
  uniforms: { H: 'u32', W: 'u32', CI: 'u32', E: 'u32', CO: 'u32', tilesX: 'u32' },
  workgroupSize: WG,
  builtins: ['wid', 'lid'],
  helpers: ({ th, tw, ec, vec }: IrKernel) => {
    const [T, q] = vec ? ['vec4f', ec / 4] : ['f32', ec];
    return `var<workgroup> ex: array<${T}, ${(th + 2) * (tw + 2) * q}>;
var<workgroup> dv: array<${T}, ${th * tw * q}>;`;
  },
  body: (k) => (k.vec ? irBodyVec(k) : irBody(k)),
});

function irBody({ th, tw, ec, acc, residual }: IrKernel): string {
  const hw = tw + 2;
  const halo = (th + 2) * hw;
  const px = th * tw;
  return `  let b = wid.y;
  let ty0 = (wid.x / p.tilesX) * ${th}u;
  let tx0 = (wid.x % p.tilesX) * ${tw}u;
  var acc: array<f32, ${acc}>;
  for (var e0 = 0u; e0 < p.E; e0 += ${ec}u) {
    // Expansion of the tile and its halo, channels e0 .. e0 + ${ec}: zero outside the image.
    for (var j = lid; j < ${halo * ec}u; j += ${WG}u) {
      let ge = e0 + j % ${ec}u;
      let hp = j / ${ec}u;
      let iy = i32(ty0 + hp / ${hw}u) - 1;
      let ix = i32(tx0 + hp % ${hw}u) - 1;
      var v = 0.0;
      if (ge < p.E && iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W)) {
        let xb = ((b * p.H + u32(iy)) * p.W + u32(ix)) * p.CI;
        var s = be[ge];
        for (var c = 0u; c < p.CI; c++) { s = fma(x[xb + c], we[c * p.E + ge], s); }
        v = clamp(s, 0.0, 6.0);
      }
      ex[j] = v;
    }
    workgroupBarrier();
    // The depthwise 3x3 of the chunk, from workgroup memory.
    for (var j = lid; j < ${px * ec}u; j += ${WG}u) {
      let e = j % ${ec}u;
      let ge = e0 + e;
      let q = j / ${ec}u;
      let h0 = (q / ${tw}u) * ${hw}u + q % ${tw}u;
      var v = 0.0;
      if (ge < p.E) {
        var s = bd[ge];
        for (var ky = 0u; ky < 3u; ky++) {
          for (var kx = 0u; kx < 3u; kx++) {
            s = fma(ex[(h0 + ky * ${hw}u + kx) * ${ec}u + e], wd[(ky * 3u + kx) * p.E + ge], s);
          }
        }
        v = clamp(s, 0.0, 6.0);
      }
      dv[j] = v;
    }
    workgroupBarrier();
    // The chunk's share of the projection, into registers (output o = pixel * CO + channel).
    let ne = min(${ec}u, p.E - e0);
    for (var k = 0u; k < ${acc}u; k++) {
      let o = lid + k * ${WG}u;
      if (o < ${px}u * p.CO) {
        let db = (o / p.CO) * ${ec}u;
        let co = o % p.CO;
        var s = acc[k];
        for (var e = 0u; e < ne; e++) { s = fma(dv[db + e], wp[(e0 + e) * p.CO + co], s); }
        acc[k] = s;
      }
    }
    // The next chunk's first barrier keeps its writes to dv behind every read above.
  }
  for (var k = 0u; k < ${acc}u; k++) {
    let o = lid + k * ${WG}u;
    let q = o / p.CO;
    let co = o % p.CO;
    let oy = ty0 + q / ${tw}u;
    let ox = tx0 + q % ${tw}u;
    if (o < ${px}u * p.CO && oy < p.H && ox < p.W) {
      let pix = (b * p.H + oy) * p.W + ox;
      y[pix * p.CO + co] = acc[k] + bp[co]${residual ? ' + x[pix * p.CI + co]' : ''};
    }
  }`;
}

/**
 * The vec4 kernel (channels multiples of 4, at most 4 * WG output channels). Lanes work on channel
 * quads and reuse each load over several pixels: in the expansion lane l owns expanded quad
 * l % q of halo pixels l / q, l / q + WG / q, ... (mh of them), so a step of 4 input channels loads
 * 4 weight quads and mh input quads for 16 * mh multiply-adds; in the projection lane l owns
 * output quad l % CO of pixels l / CO, l / CO + WG / CO, ... (acc of them), loading 4 weight quads
 * and acc depthwise quads per 4 expanded channels. lavapipe runs loads lane by lane, so the
 * loads per multiply-add are what this minimises.
 */
function irBodyVec({ th, tw, ec, acc, residual }: IrKernel): string {
  const hw = tw + 2;
  const halo = (th + 2) * hw;
  const px = th * tw;
  const q = ec / 4;
  const groups = WG / q;
  const mh = Math.ceil(halo / groups);
  const fma4 = (v: string, w: string, s: string) =>
    [0, 1, 2, 3].map((j) => `${s} = fma(vec4f(${v}.${'xyzw'[j]}), ${w}${j}, ${s});`).join(' ');
  return `  let b = wid.y;
  let ty0 = (wid.x / p.tilesX) * ${th}u;
  let tx0 = (wid.x % p.tilesX) * ${tw}u;
  // Expansion: this lane's quad and halo pixels (their x offsets; 0 and zeroed when outside).
  let eq = lid % ${q}u;
  let hg = lid / ${q}u;
  var xo: array<u32, ${mh}>;
  var inside: array<bool, ${mh}>;
  for (var m = 0u; m < ${mh}u; m++) {
    let hp = hg + m * ${groups}u;
    let iy = i32(ty0 + hp / ${hw}u) - 1;
    let ix = i32(tx0 + hp % ${hw}u) - 1;
    let ok = hp < ${halo}u && iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W);
    inside[m] = ok;
    xo[m] = select(0u, ((b * p.H + u32(max(iy, 0))) * p.W + u32(max(ix, 0))) * p.CI, ok);
  }
  // Projection: this lane's output quad and first pixel; pixels step by the lane groups.
  let pg = ${WG}u / p.CO;
  let co = lid % p.CO;
  let pq = lid / p.CO;
  var acc: array<vec4f, ${acc}>;
  for (var e0 = 0u; e0 < p.E; e0 += ${q}u) {
    let ge = e0 + eq;
    if (ge < p.E) {
      var s: array<vec4f, ${mh}>;
      let bias = be[ge];
      for (var m = 0u; m < ${mh}u; m++) { s[m] = bias; }
      for (var c = 0u; c < p.CI; c++) {
        let wb = c * 4u * p.E + ge;
        let w0 = we[wb];
        let w1 = we[wb + p.E];
        let w2 = we[wb + 2u * p.E];
        let w3 = we[wb + 3u * p.E];
        for (var m = 0u; m < ${mh}u; m++) {
          let xv = x[xo[m] + c];
          var t = s[m];
          ${fma4('xv', 'w', 't')}
          s[m] = t;
        }
      }
      for (var m = 0u; m < ${mh}u; m++) {
        let hp = hg + m * ${groups}u;
        if (hp < ${halo}u) { ex[hp * ${q}u + eq] = select(vec4f(0.0), clamp(s[m], vec4f(0.0), vec4f(6.0)), inside[m]); }
      }
    }
    workgroupBarrier();
    for (var j = lid; j < ${px * q}u; j += ${WG}u) {
      let e = j % ${q}u;
      let gd = e0 + e;
      let t = j / ${q}u;
      let h0 = (t / ${tw}u) * ${hw}u + t % ${tw}u;
      var v = vec4f(0.0);
      if (gd < p.E) {
        var sd = bd[gd];
        for (var ky = 0u; ky < 3u; ky++) {
          for (var kx = 0u; kx < 3u; kx++) {
            sd = fma(ex[(h0 + ky * ${hw}u + kx) * ${q}u + e], wd[(ky * 3u + kx) * p.E + gd], sd);
          }
        }
        v = clamp(sd, vec4f(0.0), vec4f(6.0));
      }
      dv[j] = v;
    }
    workgroupBarrier();
    if (pq < pg) {
      let ne = min(${q}u, p.E - e0);
      for (var e = 0u; e < ne; e++) {
        let wb = (e0 + e) * 4u * p.CO + co;
        let w0 = wp[wb];
        let w1 = wp[wb + p.CO];
        let w2 = wp[wb + 2u * p.CO];
        let w3 = wp[wb + 3u * p.CO];
        for (var k = 0u; k < ${acc}u; k++) {
          let dq = dv[min(pq + k * pg, ${px - 1}u) * ${q}u + e];
          var t = acc[k];
          ${fma4('dq', 'w', 't')}
          acc[k] = t;
        }
      }
    }
  }
  for (var k = 0u; k < ${acc}u; k++) {
    let t = pq + k * pg;
    let oy = ty0 + t / ${tw}u;
    let ox = tx0 + t % ${tw}u;
    if (pq < pg && t < ${px}u && oy < p.H && ox < p.W) {
      let pix = (b * p.H + oy) * p.W + ox;
      y[pix * p.CO + co] = acc[k] + bp[co]${residual ? ' + x[pix * p.CI + co]' : ''};
    }
  }`;
}

/**
 * The kernel for an image of h x w and ci -> e -> co channels: vec4 when every channel count is a
 * multiple of 4; the largest of a few tiles whose accumulators fit MAX_ACC floats per thread (twice
 * that with vec4), clipped to the image; and the expanded channels per chunk that the workgroup
 * memory limit allows (at most 32; a multiple of 4 with vec4).
 */
export function invertedResidualTile(
  h: number,
  w: number,
  ci: number,
  e: number,
  co: number,
  storageBytes: number,
): Omit<IrKernel, 'residual'> {
  const vec = ci % 4 === 0 && e % 4 === 0 && co % 4 === 0 && co <= 4 * WG;
  // Lanes per output quad in the vec4 projection: pixels are spread over WG / (co / 4) lane groups.
  const groups = vec ? Math.floor(WG / (co / 4)) : 0;
  const accOf = (px: number) => (vec ? Math.ceil(px / groups) : Math.ceil((px * co) / WG));
  // Accumulator floats per thread: MAX_ACC, twice that with vec4 (8 quads).
  const fits = (px: number) => accOf(px) * (vec ? 4 : 1) <= (vec ? 2 : 1) * MAX_ACC;
  const shapes = [
    [8, 8],
    [6, 8],
    [4, 8],
    [4, 4],
    [3, 4],
    [2, 4],
    [2, 2],
    [1, 2],
    [1, 1],
  ];
  let [th, tw] = shapes.find(([a, b]) => fits(Math.min(a, h) * Math.min(b, w))) ?? [1, 1];
  th = Math.min(th, h);
  tw = Math.min(tw, w);
  const perChannel = 4 * ((th + 2) * (tw + 2) + th * tw);
  const most = Math.min(32, Math.floor(storageBytes / perChannel));
  // vec4: quads per chunk a power of two (it divides the workgroup's lanes).
  const ec = vec ? 4 * 2 ** Math.floor(Math.log2(Math.max(1, most / 4))) : Math.max(1, most);
  return { th, tw, ec, acc: accOf(th * tw), vec };
}

/** The folded weights of an inverted-residual block (batch norms already folded in). */
export interface InvertedResidualWeights {
  /** The expansion 1x1 conv, [Cin, E]. */
  expandFilter: Tensor;
  /** Its bias, [E]. */
  expandBias: Tensor;
  /** The 3x3 depthwise filter, [3, 3, E]. */
  depthwiseFilter: Tensor;
  /** Its bias, [E]. */
  depthwiseBias: Tensor;
  /** The projection 1x1 conv, [E, Cout]. */
  projectFilter: Tensor;
  /** Its bias, [Cout]. */
  projectBias: Tensor;
}

/**
 * The block's weights from its three convs in Keras' layout (expand [1, 1, Cin, E], depthwise
 * [3, 3, E, 1], project [1, 1, E, Cout]), each with its bias (folded or not): the filters as
 * reshaped views, which the caller owns, the biases as given.
 */
export function blockWeights(
  expand: FoldedConv,
  depthwise: FoldedConv,
  project: FoldedConv,
): InvertedResidualWeights {
  const [, , cin, e] = expand.filter.shape;
  return {
    expandFilter: reshape(expand.filter, [cin, e]),
    expandBias: expand.bias,
    depthwiseFilter: reshape(depthwise.filter, [3, 3, e]),
    depthwiseBias: depthwise.bias,
    projectFilter: reshape(project.filter, [e, project.filter.shape[3]]),
    projectBias: project.bias,
  };
}

/** Options of `invertedResidualBlock`. */
export interface InvertedResidualOptions {
  /** Add x to the output (needs Cout == Cin). Default false. */
  residual?: boolean;
}

const OP = 'invertedResidualBlock';

function checkWeight(
  w: InvertedResidualWeights,
  name: keyof InvertedResidualWeights,
  shape: number[],
): Tensor {
  const t = w[name];
  assertTensor(t, OP, `weights.${name}`);
  assertDTypeIn(t, ['float32'], OP, `weights.${name}`);
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw new ShapeError(
      `${OP}: weights.${name} must have shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`,
    );
  return t;
}

/**
 * One MobileNetV2 inverted-residual block for inference, stride 1, in one dispatch:
 * `project(relu6(depthwise3x3_same(relu6(expand(x))))) [+ x]`, each step with its bias (the batch
 * norms folded in). x [N, H, W, Cin] -> [N, H, W, Cout]. Not differentiable: it throws when a
 * gradient tape watches any input (use the separate convs there).
 */
export function invertedResidualBlock(
  x: Tensor,
  weights: InvertedResidualWeights,
  opts: InvertedResidualOptions = {},
): Tensor {
  assertTensor(x, OP, 'x');
  assertDTypeIn(x, ['float32'], OP, 'x');
  assertRank(x, 4, OP, 'x');
  if (weights === null || typeof weights !== 'object')
    throw new ArgumentError(`${OP}: weights must be an object of six tensors, got ${String(weights)}`);
  if (opts === null || typeof opts !== 'object')
    throw new ArgumentError(`${OP}: opts must be an object, got ${String(opts)}`);
  const residual = opts.residual ?? false;
  if (typeof residual !== 'boolean')
    throw new ArgumentError(`${OP}: opts.residual must be a boolean, got ${JSON.stringify(residual)}`);
  const [n, h, w, ci] = x.shape;
  assertTensor(weights.expandFilter, OP, 'weights.expandFilter');
  assertTensor(weights.projectFilter, OP, 'weights.projectFilter');
  if (weights.expandFilter.rank !== 2 || weights.projectFilter.rank !== 2)
    throw new ShapeError(
      `${OP}: weights.expandFilter [Cin, E] and weights.projectFilter [E, Cout] must have rank 2, got ${fmtShape(weights.expandFilter.shape)} and ${fmtShape(weights.projectFilter.shape)}`,
    );
  const e = weights.expandFilter.shape[1];
  const co = weights.projectFilter.shape[1];
  if (ci < 1 || e < 1 || co < 1)
    throw new ShapeError(
      `${OP}: channels must be at least 1, got Cin ${ci} (x ${fmtShape(x.shape)}), E ${e}, Cout ${co}`,
    );
  const we = checkWeight(weights, 'expandFilter', [ci, e]);
  const be = checkWeight(weights, 'expandBias', [e]);
  const wd = checkWeight(weights, 'depthwiseFilter', [3, 3, e]);
  const bd = checkWeight(weights, 'depthwiseBias', [e]);
  const wp = checkWeight(weights, 'projectFilter', [e, co]);
  const bp = checkWeight(weights, 'projectBias', [co]);
  if (residual && co !== ci)
    throw new ShapeError(
      `${OP}: residual needs as many output channels as input channels, got x ${fmtShape(x.shape)} and weights.projectFilter ${fmtShape(wp.shape)}`,
    );
  if (needsGradient(x, we, be, wd, bd, wp, bp))
    throw new ArgumentError(
      `${OP}: is inference only and a gradient tape watches its inputs; use conv2d and depthwiseConv2d there`,
    );
  const out = emptyTensor([n, h, w, co], 'float32');
  if (out.size === 0) return out;
  for (const [t, name] of [
    [x, 'x'],
    [out, 'output'],
  ] as const)
    assertBindable(t, OP, name);
  const k = invertedResidualTile(h, w, ci, e, co, currentDevice().limits.maxComputeWorkgroupStorageSize);
  const q = k.vec ? 4 : 1;
  const tilesX = Math.ceil(w / k.tw);
  const tiles = Math.ceil(h / k.th) * tilesX;
  if (tiles > 65535 || n > 65535)
    throw new ShapeError(`${OP}: x ${fmtShape(x.shape)} needs more than 65535 tiles or batch entries`);
  irKernel.run({
    constants: { ...k, residual },
    buffers: { x, we, be, wd, bd, wp, bp, y: out },
    uniforms: { H: h, W: w, CI: ci / q, E: e / q, CO: co / q, tilesX },
    workgroups: [tiles, n],
  });
  return out;
}
