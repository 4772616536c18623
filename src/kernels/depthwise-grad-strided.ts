import type { Tensor } from '../tensor/tensor.js';
import type { Geometry } from './conv-args.js';
import { defineKernel } from './program.js';
import { grid } from './util.js';

/**
 * The input gradient of a strided depthwise conv (multiplier 1, channels as vec4), stride s in
 * both directions. With the forward `y[oy] = sum_ky x[oy * s - padT + ky] f[ky]`, the input
 * row `iy = s * a - padT + r` (r < s) receives `dy[a + (r - ky) / s] f[ky]` from exactly the taps
 * with `ky = r (mod s)`, so the s x s block of input pixels at block (a, b) is a small sum over
 * the dy pixels around (a, b), each tap's dy offset known when the kernel is generated. A lane
 * owns one channel quad of a column of such blocks, keeps the filter taps in registers and walks
 * down the blocks, carrying the dy rows that the next block shares: at stride 2 with a 3x3 window
 * it loads 2 dy quads per 4 outputs. The generic kernel (depthwise.ts' plain kernel with `back`)
 * loads every contributing dy quad and filter quad per output pixel (about 4.5 per output at
 * stride 2, 3x3), and was MobileNetV2's slowest backward kernel in training (4 dispatches, about
 * 6% of a whole-network training step at batch 16 on lavapipe).
 */
export type DwGradStridedKernel = {
  kh: number;
  kw: number;
  /** The stride (both directions). */
  s: number;
};

export const dwGradStridedKernel = defineKernel({
  name: 'depthwise_grad_strided',
  bindings: { dy: 'read vec4f', f: 'read vec4f', dx: 'rw vec4f' },
  uniforms: {
    H: 'u32',
    W: 'u32',
    OH: 'u32',
    OW: 'u32',
    padT: 'i32',
    padL: 'i32',
    CS: 'u32',
    BW: 'u32',
    BH: 'u32',
    rows: 'u32',
    n: 'u32',
  },
  workgroupSize: 64,
  index: { total: 'n' },
  body: dwGradStridedBody,
});

/** floor(v / s) for the small compile-time offsets. */
const fdiv = (v: number, s: number) => Math.floor(v / s);

function dwGradStridedBody({ kh, kw, s }: DwGradStridedKernel): string {
  // dy offsets each block reads: rows a + dr, dr from floor(-(kh-1)/s) to 0 (likewise columns).
  const r0 = fdiv(-(kh - 1), s);
  const c0 = fdiv(-(kw - 1), s);
  const nr = 1 - r0;
  const nc = 1 - c0;
  let t = `  let cq = i % p.CS;
  let rest = i / p.CS;
  let b = rest % p.BW;
  let rest2 = rest / p.BW;
  let bh = (p.BH + p.rows - 1u) / p.rows;
  let a0 = (rest2 % bh) * p.rows;
  let a1 = min(a0 + p.rows, p.BH);
  let img = rest2 / bh;
`;
  for (let k = 0; k < kh * kw; k++) t += `  let f${k} = f[${k}u * p.CS + cq];\n`;
  for (let dr = 0; dr < nr; dr++) for (let dc = 0; dc < nc; dc++) t += `  var d${dr}_${dc} = vec4f(0.0);\n`;
  // dy row `row` (an i32 expression) into window row `dr`.
  const loadRow = (dr: number, row: string, ind: string) => {
    let u = `${ind}{
${ind}  let yr = ${row};
${ind}  let rowOk = yr >= 0 && yr < i32(p.OH);
${ind}  let base = (img * p.OH + u32(max(yr, 0))) * p.OW;
`;
    for (let dc = 0; dc < nc; dc++) {
      u += `${ind}  let yc${dc} = i32(b) + ${c0 + dc};
${ind}  let ok${dc} = rowOk && yc${dc} >= 0 && yc${dc} < i32(p.OW);
${ind}  d${dr}_${dc} = select(vec4f(0.0), dy[select(0u, (base + u32(yc${dc})) * p.CS + cq, ok${dc})], ok${dc});
`;
    }
    return `${u}${ind}}\n`;
  };
  // Rows a0 + r0 .. a0 - 1 before the walk; each step loads row a (window row nr - 1).
  for (let dr = 0; dr < nr - 1; dr++) t += loadRow(dr, `i32(a0) + ${r0 + dr}`, '  ');
  let body = loadRow(nr - 1, 'i32(a)', '    ');
  for (let r = 0; r < s; r++) {
    body += `    {
      let iy = i32(a * ${s}u + ${r}u) - p.padT;
      let rowIn = iy >= 0 && iy < i32(p.H);
`;
    for (let c = 0; c < s; c++) {
      const terms: string[] = [];
      for (let ky = r % s; ky < kh; ky += s)
        for (let kx = c % s; kx < kw; kx += s) {
          // dy offset (r - ky) / s, exact; window row index offset - r0.
          const dr = (r - ky) / s - r0;
          const dc = (c - kx) / s - c0;
          terms.push(`d${dr}_${dc} * f${ky * kw + kx}`);
        }
      // No tap lands on this parity (a window narrower than the stride): the gradient is 0.
      const sum = terms.reduce((acc, term) => `fma(${term.replace(' * ', ', ')}, ${acc})`, 'vec4f(0.0)');
      body += `      {
        let ix = i32(b * ${s}u + ${c}u) - p.padL;
        if (rowIn && ix >= 0 && ix < i32(p.W)) { dx[((img * p.H + u32(iy)) * p.W + u32(ix)) * p.CS + cq] = ${sum}; }
      }
`;
    }
    body += '    }\n';
  }
  for (let dr = 0; dr < nr - 1; dr++)
    for (let dc = 0; dc < nc; dc++) body += `    d${dr}_${dc} = d${dr + 1}_${dc};\n`;
  return `${t}  for (var a = a0; a < a1; a++) {\n${body}  }\n`;
}

/**
 * Whether the strided kernel computes this input gradient: multiplier 1, channels a multiple of 4,
 * equal strides of 2-4, windows up to 7x7.
 */
export function dwGradStridedTakes(g: Geometry, mult: number): boolean {
  return mult === 1 && g.c % 4 === 0 && g.sh === g.sw && g.sh >= 2 && g.sh <= 4 && g.kh <= 7 && g.kw <= 7;
}

/**
 * Runs the kernel (the caller checked `dwGradStridedTakes`): dy [N, OH, OW, C], filter [kh, kw, C,
 * 1] -> dx [N, H, W, C]. Each lane walks whole columns of blocks unless that leaves fewer than
 * ~4096 lanes to share among the threads.
 */
export function depthwiseGradStrided(dy: Tensor, f: Tensor, dx: Tensor, g: Geometry): void {
  const s = g.sh;
  const padT = g.pad[0][0];
  const padL = g.pad[1][0];
  // Blocks cover input rows s * a - padT .. (first block row reaching row 0 is a = 0 when padT < s).
  const BH = Math.ceil((g.h + padT) / s);
  const BW = Math.ceil((g.w + padL) / s);
  const cs = g.c / 4;
  const per = g.n * BW * cs;
  const strips = Math.min(BH, Math.max(1, Math.ceil(4096 / per)));
  const rows = Math.ceil(BH / strips);
  const n = per * Math.ceil(BH / rows);
  dwGradStridedKernel.run({
    constants: { kh: g.kh, kw: g.kw, s },
    buffers: { dy, f, dx },
    uniforms: { H: g.h, W: g.w, OH: g.oh, OW: g.ow, padT, padL, CS: cs, BW, BH, rows, n },
    workgroups: grid(n, 64),
  });
}
