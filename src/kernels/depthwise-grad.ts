import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import {
  DEPTHWISE,
  DW_HEAD,
  dwHead,
  forwardWindow,
  type Geometry,
  type Padding,
  type Strides,
} from './conv-args.js';
import { sumParts } from './conv-grad.js';
import { filterGradOp } from './conv-ops.js';
import { defineKernel } from './program.js';
import { grid } from './util.js';

/** The gradient of depthwiseConv2d (depthwise.ts) w.r.t. its filter. */

export type DwFilterGradKernel = {
  kh: number;
  kw: number;
  vec: boolean;
  /** The column stride when the window slides along the row (small windows), else 0. */
  sw: number;
};

/**
 * Filter gradient: each lane owns one output channel (quad) and a range of output rows, and keeps
 * one sum per tap (kh*kw baked); parts are added by a second pass.
 */
export const dwFilterGradKernel = defineKernel({
  name: 'depthwise_filter_grad',
  bindings: (k: DwFilterGradKernel) => {
    const T = k.vec ? 'vec4f' : 'f32';
    return { x: `read ${T}`, dy: `read ${T}`, o: `rw ${T}` } as const;
  },
  uniforms: {
    ...DW_HEAD,
    rows: 'u32',
    rowsPerPart: 'u32',
    n: 'u32',
  },
  workgroupSize: 64,
  index: { total: 'n' },
  body: dwFilterGradBody,
});

function dwFilterGradBody({ kh, kw, vec, sw }: DwFilterGradKernel): string {
  const T = vec ? 'vec4f' : 'f32';
  // With the column stride baked (sw > 0), the window slides along the row: each step keeps the
  // kw - sw columns shared with the previous output pixel and loads sw new ones per window row,
  // instead of all kh * kw taps.
  const carry = sw > 0 ? Math.max(0, kw - sw) : 0;
  let decl = '';
  let body = '';
  let store = '';
  let pre = '';
  const load = (ky: number, j: number, col: string, indent: string) =>
    `${indent}{ let xx = u32(${col}); let ok = rowOk${ky} && xx < p.W; ` +
    `w${ky}_${j} = select(${T}(0.0), x[select(0u, (rowBase${ky} + xx) * p.CS + d / p.M, ok)], ok); }\n`;
  if (sw > 0) {
    for (let ky = 0; ky < kh; ky++) for (let j = 0; j < kw; j++) decl += `  var w${ky}_${j} = ${T}(0.0);\n`;
    for (let ky = 0; ky < kh; ky++) {
      pre += `    let yy${ky} = u32(iy + ${ky});\n    let rowOk${ky} = yy${ky} < p.H;\n    let rowBase${ky} = (b * p.H + yy${ky}) * p.W;\n`;
      // Columns 0 .. carry-1 of the first window, as if loaded by a step before it.
      for (let j = 0; j < carry; j++) pre += load(ky, j + sw, `-p.padL + ${j}`, '    ');
    }
    for (let ky = 0; ky < kh; ky++) {
      for (let j = 0; j < carry; j++) body += `      w${ky}_${j} = w${ky}_${j + sw};\n`;
      for (let j = carry; j < kw; j++) body += load(ky, j, `ix + ${j}`, '      ');
    }
  }
  for (let t = 0; t < kh * kw; t++) {
    const ky = Math.floor(t / kw);
    const kx = t % kw;
    decl += `  var a${t} = ${T}(0.0);\n`;
    if (sw > 0) body += `      a${t} = fma(w${ky}_${kx}, g, a${t});\n`;
    else
      body += `      {
        let yy = u32(iy + ${ky});
        let xx = u32(ix + ${kx});
        let ok = yy < p.H && xx < p.W;
        a${t} = fma(select(${T}(0.0), x[select(0u, ((b * p.H + yy) * p.W + xx) * p.CS + d / p.M, ok)], ok), g, a${t});
      }
`;
    store += `  o[(part * ${kh * kw}u + ${t}u) * p.CO + d] = a${t};\n`;
  }
  return `  let d = i % p.CO;
  let part = i / p.CO;
  let r0 = part * p.rowsPerPart;
  let r1 = min(r0 + p.rowsPerPart, p.rows);
${decl}  for (var r = r0; r < r1; r++) {
    let b = r / p.OH;
    let iy = i32((r % p.OH) * p.sh) - p.padT;
${pre}    for (var ox = 0u; ox < p.OW; ox++) {
      let ix = i32(ox * p.sw) - p.padL;
      let g = dy[(r * p.OW + ox) * p.CO + d];
${body}    }
  }
${store}`;
}

function dispatch(x: Tensor, dy: Tensor, df: Tensor, g: Geometry): void {
  const [kh, kw, c, mult] = df.shape;
  const vec = mult === 1 && c % 4 === 0;
  const q = vec ? 4 : 1;
  const co = (c * mult) / q;
  const rows = g.n * g.oh;
  // Enough lanes for every lavapipe thread (~512), each summing at least a few rows.
  const parts = Math.max(1, Math.min(rows, Math.ceil(512 / co)));
  const rowsPerPart = Math.ceil(rows / parts);
  const used = Math.ceil(rows / rowsPerPart);
  const taps = kh * kw;
  // Sliding windows for small windows and strides (the code grows with kh * kw).
  const slide = taps <= 25 && g.sw <= 4 ? g.sw : 0;
  const out = used > 1 ? emptyTensor([used, taps, c * mult], 'float32') : df;
  const n = used * co;
  dwFilterGradKernel.run({
    constants: { kh, kw, vec, sw: slide },
    buffers: { x, dy, o: out },
    uniforms: { ...dwHead(forwardWindow(g), c / q, co, mult), rows, rowsPerPart, n },
    workgroups: grid(n, 64),
  });
  sumParts(out, used, df);
}

/** The gradient of depthwiseConv2d w.r.t. its filter: -> filterShape [kh,kw,C,mult]. */
export function depthwiseConv2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  filterShape: readonly number[],
  strides: Strides,
  padding: Padding,
): Tensor {
  return filterGradOp(DEPTHWISE, x, dy, filterShape, strides, padding, (df, g) => dispatch(x, dy, df, g));
}
