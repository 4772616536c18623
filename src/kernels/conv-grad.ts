import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import {
  CONV_HEAD,
  CONV2D,
  convHead,
  forwardWindow,
  type Geometry,
  type Padding,
  type Strides,
} from './conv-args.js';
import { filterGradOp } from './conv-ops.js';
import { defineKernel } from './program.js';
import { subgroupLanes } from './tuning.js';
import { grid } from './util.js';

/**
 * The gradient of conv2d w.r.t. its filter, a split-K kernel whose parts a second pass sums
 * (`sumParts`, also used by the depthwise filter gradient).
 */

export type FilterGradKernel = {
  /** Input channels per subgroup tile (rows of the product). */
  rows: number;
  groups: number;
  sg: number;
  x4: boolean;
  f4: boolean;
};

/**
 * Split-K filter gradient: df[t, ci, co] = sum over output pixels of x(shifted by tap t)[ci] *
 * dy[co]. Workgroup z = part * taps + t; a part is a range of (image, output row) pairs and
 * writes its sums to part[z]. A subgroup owns `rows` input channels x 4*lanes output channels;
 * per step it takes `px` output pixels, whose input values are spread over the lanes and
 * broadcast as in the forward kernel (conv.ts).
 */
export const filterGradKernel = defineKernel({
  name: 'conv2d_filter_grad',
  bindings: (k: FilterGradKernel) => ({
    x: k.x4 ? 'read vec4f' : 'read f32',
    dy: k.f4 ? 'read vec4f' : 'read f32',
    o: k.f4 ? 'rw vec4f' : 'rw f32',
  }),
  uniforms: {
    ...CONV_HEAD,
    KW: 'u32',
    taps: 'u32',
    rowsPerPart: 'u32',
    NOH: 'u32',
    ciBlocks: 'u32',
  },
  workgroupSize: (k) => (k.sg || 8) * k.groups,
  builtins: (k) => (k.sg ? ['wid', 'sgi', 'sgid'] : ['wid', 'lid']),
  enables: (k) => (k.sg ? ['subgroups'] : []),
  body: filterGradBody,
});

function filterGradBody(k: FilterGradKernel): string {
  const L = k.sg || 8;
  const E = k.x4 ? 4 : 1; // input channels per load
  const per = k.rows / E; // loads per pixel
  const px = Math.max(1, (L * E) / k.rows); // pixels per step
  const loaders = k.sg ? (px * per) / L : px * per;
  const xT = k.x4 ? 'vec4f' : 'f32';
  let body = '';
  // Lane-loaded input values: item q covers pixel q / per and channel group q % per.
  for (let u = 0; u < loaders; u++) {
    const q = k.sg ? `(sgi + ${L * u}u)` : `${u}u`;
    body += `      let q${u} = ${q};
      let ox${u} = ox + q${u} / ${per}u;
      let ix${u} = u32(i32(ox${u} * p.sw) + ixOff);
      let ok${u} = ox${u} < p.OW && ix${u} < p.W;
      let ci${u} = min(ci0 + (q${u} % ${per}u) * ${E}u, p.C - 1u);
      let xv${u} = select(${xT}(0.0), x[select(0u, (rowBase + ix${u}) * p.C + ci${u}, ok${u})${k.x4 ? ' / 4u' : ''}], ok${u});
`;
  }
  for (let j = 0; j < px; j++) {
    const dyIdx = `(dyRow + min(ox + ${j}u, p.OW - 1u)) * p.CO`;
    if (k.f4) body += `      let g${j} = select(vec4f(0.0), dy[(${dyIdx} + cq) / 4u], ox + ${j}u < p.OW);\n`;
    else {
      const el = [0, 1, 2, 3].map((c) => `dy[${dyIdx} + cc${c}]`).join(', ');
      body += `      let g${j} = select(vec4f(0.0), vec4f(${el}), ox + ${j}u < p.OW);\n`;
    }
  }
  for (let item = 0; item < px * per; item++) {
    const src = k.sg ? `subgroupBroadcast(xv${Math.floor(item / L)}, ${item % L}u)` : `xv${item}`;
    body += `      let b${item} = ${src};\n`;
  }
  for (let r = 0; r < k.rows; r++) {
    for (let j = 0; j < px; j++) {
      const item = j * per + Math.floor(r / E);
      const comp = k.x4 ? `b${item}.${'xyzw'[r % E]}` : `b${item}`;
      body += `      acc${r} = fma(vec4f(${comp}), g${j}, acc${r});\n`;
    }
  }
  let decl = '';
  for (let r = 0; r < k.rows; r++) decl += `  var acc${r} = vec4f(0.0);\n`;
  let cols = '';
  if (!k.f4) for (let j = 0; j < 4; j++) cols += `  let cc${j} = min(co + ${j}u, p.CO - 1u);\n`;
  // Stores in a loop over a private copy of the accumulators (short compiles, see convKernel).
  let store = `  let accs = array<vec4f, ${k.rows}>(${Array.from({ length: k.rows }, (_, r) => `acc${r}`).join(', ')});\n`;
  store += `  for (var r = 0u; r < min(p.C - ci0, ${k.rows}u); r++) {\n    let row = outBase + (ci0 + r) * p.CO + co;\n`;
  if (k.f4) store += '    o[row / 4u] = accs[r];\n';
  else
    for (let j = 0; j < 4; j++)
      store += `    if (co + ${j}u < p.CO) { o[row + ${j}u] = accs[r].${'xyzw'[j]}; }\n`;
  store += '  }\n';
  return `${k.sg ? '' : `  let sgi = lid % ${L}u;\n  let sgid = lid / ${L}u;\n`}  let t = wid.z % p.taps;
  let part = wid.z / p.taps;
  let ky = t / p.KW;
  let kx = t % p.KW;
  let ci0 = wid.y * ${k.rows}u;
  let co = (wid.x * ${k.groups}u + sgid) * ${4 * L}u + sgi * 4u;
  let cq = min(co, p.CO - 4u);
${cols}  let ixOff = i32(kx) - p.padL;
${decl}  let r0 = part * p.rowsPerPart;
  let r1 = min(r0 + p.rowsPerPart, p.NOH);
  for (var r = r0; r < r1; r++) {
    let oy = r % p.OH;
    let iy = u32(i32(oy * p.sh + ky) - p.padT);
    if (iy >= p.H) { continue; }
    let rowBase = (r / p.OH * p.H + iy) * p.W;
    let dyRow = r * p.OW;
    for (var ox = 0u; ox < p.OW; ox += ${px}u) {
${body}    }
  }
  if (co >= p.CO) { return; }
  let outBase = (part * p.taps + t) * p.C * p.CO;
${store}`;
}

const sumPartsKernel = defineKernel({
  name: 'conv_sum_parts',
  bindings: { part: 'read f32', o: 'rw f32' },
  uniforms: { n: 'u32', parts: 'u32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: () => `  var s = 0.0;
  for (var q = 0u; q < p.parts; q++) { s += part[q * p.n + i]; }
  o[i] = s;`,
});

/**
 * Finishes a split filter gradient: with parts > 1, sums the `parts` slices of `n` elements into out
 * (out[i] = sum_p part[p * n + i]) and frees `partials`; with one part, `partials` is `out` already.
 */
export function sumParts(partials: Tensor, parts: number, out: Tensor): void {
  if (parts <= 1) return;
  const n = out.size;
  sumPartsKernel.run({
    buffers: { part: partials, o: out },
    uniforms: { n, parts },
    workgroups: grid(n, 64),
  });
  partials.dispose();
}

function dispatchFilterGrad(x: Tensor, dy: Tensor, df: Tensor, g: Geometry, co: number): void {
  const sg = subgroupLanes('conv');
  const L = sg || 8;
  const c = g.c;
  const x4 = c % 4 === 0;
  const k: FilterGradKernel = {
    // Input channels per tile: 4, 8 or 16 (no more than needed for small C).
    rows: Math.min(16, Math.max(4, 2 ** Math.ceil(Math.log2(c)))),
    groups: co > 4 * L ? 2 : 1,
    sg,
    x4,
    f4: co % 4 === 0,
  };
  const taps = g.kh * g.kw;
  const wx = Math.ceil(co / (4 * L * k.groups));
  const wy = Math.ceil(c / k.rows);
  const noh = g.n * g.oh;
  // Enough workgroups to keep every lavapipe thread busy, but long enough reductions per part.
  const rowsPerPart = Math.ceil(noh / Math.max(1, Math.min(noh, Math.ceil(64 / (wx * wy * taps)))));
  const parts = Math.ceil(noh / rowsPerPart);
  const out = parts > 1 ? emptyTensor([parts, taps, c, co], 'float32') : df;
  filterGradKernel.run({
    constants: k,
    buffers: { x, dy, o: out },
    uniforms: {
      ...convHead(forwardWindow(g), c, co),
      KW: g.kw,
      taps,
      rowsPerPart,
      NOH: noh,
      ciBlocks: wy,
    },
    workgroups: [wx, wy, parts * taps],
  });
  sumParts(out, parts, df);
}

/**
 * The gradient of conv2d w.r.t. its filter: x [N,H,W,Cin], dy [N,OH,OW,Cout] -> filterShape
 * [kh,kw,Cin,Cout].
 */
export function conv2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  filterShape: readonly number[],
  strides: Strides,
  padding: Padding,
): Tensor {
  return filterGradOp(CONV2D, x, dy, filterShape, strides, padding, (df, g) =>
    dispatchFilterGrad(x, dy, df, g, filterShape[3]),
  );
}
