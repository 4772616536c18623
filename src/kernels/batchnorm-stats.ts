import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import { grid } from './util.js';

/**
 * Batch norm's channel statistics: per-part partial sums over runs of rows, in one read of the
 * data, then one small pass per channel that combines the parts. Training takes the batch mean
 * and variance here (one statistics pass: each part's mean and M2 from shifted sums, combined
 * with Chan et al.'s update), the gradient its two channel sums.
 */

export interface Layout {
  rows: number;
  c: number;
  vec: boolean;
  /** Channel groups: c / 4 or c. */
  cq: number;
}

export function layoutOf(x: Tensor): Layout {
  const c = x.shape[x.rank - 1];
  const vec = c % 4 === 0;
  return { rows: c === 0 ? 0 : x.size / c, c, vec, cq: vec ? c / 4 : c };
}

export const T = (vec: boolean) => (vec ? 'vec4f' : 'f32');

/** A read binding of channel values: vec4f quads or f32 channels. */
export const read = (vec: boolean) => `read ${T(vec)}` as const;
export const rw = (vec: boolean) => `rw ${T(vec)}` as const;

type SumMode = 'moments' | 'grad';

/**
 * WGSL: dy[j], or with `mask` (a ReLU6 fused into the forward pass) dy[j] times ReLU6's derivative
 * at the forward output y[j], the arithmetic of unary.ts' reluGrad.
 */
export function maskedDy(vec: boolean, mask: boolean, j: string): string {
  if (!mask) return `dy[${j}]`;
  const [z, one, six] = vec ? ['vec4f(0.0)', 'vec4f(1.0)', 'vec4f(6.0)'] : ['0.0', '1.0', '6.0'];
  const inside = vec ? `(y[${j}] > ${z}) & (y[${j}] < ${six})` : `y[${j}] > ${z} && y[${j}] < ${six}`;
  return `(dy[${j}] * select(${z}, ${one}, ${inside}))`;
}

/** The accumulation step of each partial mode (x[j], dy[j] at row r, channel c), `u` naming its values. */
const PARTIAL_LOAD: Record<SumMode, (j: string, u: string, vec: boolean, mask: boolean) => string> = {
  // Shifted sums: deviations from the part's first row keep the float32 sums short and stable.
  moments: (j, u) => `    let d${u} = x[${j}] - k0;\n    a0 += d${u};\n    a1 = fma(d${u}, d${u}, a1);\n`,
  grad: (j, u, vec, mask) =>
    `    let g${u} = ${maskedDy(vec, mask, j)};\n    a0 += g${u};\n    a1 = fma(g${u}, x[${j}] - m, a1);\n`,
};

/** Rows per iteration of `rowLoop`. */
const UNROLL = 4;

/**
 * A lane's loop over rows r0 .. r1 of its channel c (element j = r * p.C + c): 4 rows per
 * iteration, then the remaining ones. lavapipe pays the loop's bookkeeping and a masked blend of
 * every loop-carried value on each iteration; 4 rows sharing them made the statistics pass ~2x
 * faster and the whole-network training step at batch 16 ~10% (bench/README.md). `step(j, u)` is
 * the WGSL of one row, `u` a suffix that keeps its names apart.
 */
export function rowLoop(step: (j: string, u: string) => string): string {
  const rows = Array.from({ length: UNROLL }, (_, u) => step(u ? `j + ${u}u * p.C` : 'j', `${u}`)).join('');
  return `  var r = r0;
  for (; r + ${UNROLL - 1}u < r1; r += ${UNROLL}u) {
    let j = r * p.C + c;
${rows}  }
  for (; r < r1; r++) {
    let j = r * p.C + c;
${step('j', 't')}  }`;
}

/** How each partial mode stores a part's two accumulators (slices 0 and 1 of `part`). */
const PARTIAL_STORE: Record<SumMode, (zero: string) => string> = {
  // The part's mean and its sum of squared deviations from that mean (M2).
  moments: (zero) => `let cnt = f32(r1 - r0);
  part[q * p.C + c] = k0 + a0 / cnt;
  part[(p.parts + q) * p.C + c] = max(a1 - a0 * a0 / cnt, ${zero});`,
  grad: () => `part[q * p.C + c] = a0;
  part[(p.parts + q) * p.C + c] = a1;`,
};

/**
 * Per-part channel statistics in one read of the data, two slices each: 'moments' the mean and
 * M2 of x over the part's rows (the one statistics pass of training batch norm), 'grad' the sums
 * of dy and of dy * (x - mean). part[(k * parts + q) * C + c] for slice k and part q.
 */
const partialKernel = defineKernel({
  name: 'batchnorm_partial',
  bindings: (k: { vec: boolean; mode: SumMode; mask?: boolean }) => ({
    x: read(k.vec),
    part: rw(k.vec),
    mean: k.mode === 'grad' ? read(k.vec) : undefined,
    dy: k.mode === 'grad' ? read(k.vec) : undefined,
    y: k.mask ? read(k.vec) : undefined,
  }),
  uniforms: { rows: 'u32', C: 'u32', per: 'u32', n: 'u32', parts: 'u32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: (k) => `  let c = i % p.C;
  let q = i / p.C;
  let r0 = q * p.per;
  let r1 = min(r0 + p.per, p.rows);
  ${k.mode === 'grad' ? 'let m = mean[c];' : 'let k0 = x[r0 * p.C + c];'}
  var a0 = ${T(k.vec)}(0.0);
  var a1 = ${T(k.vec)}(0.0);
${rowLoop((j, u) => PARTIAL_LOAD[k.mode](j, u, k.vec, !!k.mask))}
  ${PARTIAL_STORE[k.mode](`${T(k.vec)}(0.0)`)}`,
});

/**
 * Mean and biased variance per channel from the parts' means and M2s, combined in order with
 * Chan et al.'s pairwise update (exact in real arithmetic, stable in float32).
 */
const momentsFinishKernel = defineKernel({
  name: 'batchnorm_moments_finish',
  bindings: (k: { vec: boolean }) => ({ part: read(k.vec), mean: rw(k.vec), variance: rw(k.vec) }),
  uniforms: { C: 'u32', parts: 'u32', per: 'u32', rows: 'u32' },
  workgroupSize: 64,
  builtins: ['gid'],
  body: (k) => `  let c = gid.x;
  if (c >= p.C) { return; }
  var cnt = 0.0;
  var m = ${T(k.vec)}(0.0);
  var m2 = ${T(k.vec)}(0.0);
  for (var q = 0u; q < p.parts; q++) {
    let nb = f32(min(p.per, p.rows - q * p.per));
    let tot = cnt + nb;
    let d = part[q * p.C + c] - m;
    m += d * (nb / tot);
    m2 += part[(p.parts + q) * p.C + c] + d * d * (cnt * nb / tot);
    cnt = tot;
  }
  mean[c] = m;
  variance[c] = m2 / cnt;`,
});

/** out[k * C + c] = scale * sum over parts of part[(k * parts + q) * C + c]. */
const finishKernel = defineKernel({
  name: 'batchnorm_finish',
  bindings: (k: { vec: boolean }) => ({ part: read(k.vec), o: rw(k.vec) }),
  uniforms: { C: 'u32', parts: 'u32', n: 'u32', scale: 'f32' },
  workgroupSize: 64,
  builtins: ['gid'],
  body: (k) => `  let i = gid.x;
  if (i >= p.n) { return; }
  let c = i % p.C;
  let base = (i / p.C) * p.parts * p.C + c;
  var s = ${T(k.vec)}(0.0);
  for (var q = 0u; q < p.parts; q++) { s += part[base + q * p.C]; }
  o[i] = s * p.scale;`,
});

/** The per-part partial statistics of x (and dy for 'grad'): [2, parts, C], with the split used. */
function partials(mode: SumMode, l: Layout, x: Tensor, mean?: Tensor, dy?: Tensor, y?: Tensor) {
  // About 2048 lanes in all (every lavapipe thread busy), at least 16 rows each.
  const parts = Math.max(1, Math.min(Math.ceil(2048 / l.cq), Math.ceil(l.rows / 16)));
  const per = Math.ceil(l.rows / parts);
  const used = Math.ceil(l.rows / per);
  const part = emptyTensor([2, used, l.c], 'float32');
  const n = used * l.cq;
  partialKernel.run({
    constants: { vec: l.vec, mode, ...(y ? { mask: true } : {}) },
    buffers: { x, part, mean, dy, y },
    uniforms: { rows: l.rows, C: l.cq, per, n, parts: used },
    workgroups: grid(n, 64),
  });
  return { part, per, used };
}

/** The batch mean and biased variance per channel, in one read of x. */
export function channelMoments(l: Layout, x: Tensor): { mean: Tensor; variance: Tensor } {
  const { part, per, used } = partials('moments', l, x);
  const mean = emptyTensor([l.c], 'float32');
  const variance = emptyTensor([l.c], 'float32');
  momentsFinishKernel.run({
    constants: { vec: l.vec },
    buffers: { part, mean, variance },
    uniforms: { C: l.cq, parts: used, per, rows: l.rows },
    workgroups: [Math.ceil(l.cq / 64)],
  });
  part.dispose();
  return { mean, variance };
}

/**
 * The gradient's channel sums [2, C]: sum(dy) and sum(dy * (x - mean)); with `y`, of dy masked
 * by ReLU6's derivative at y (`maskedDy`).
 */
export function gradSums(l: Layout, x: Tensor, mean: Tensor, dy: Tensor, y?: Tensor): Tensor {
  const { part, used } = partials('grad', l, x, mean, dy, y);
  const out = emptyTensor([2, l.c], 'float32');
  const m = 2 * l.cq;
  finishKernel.run({
    constants: { vec: l.vec },
    buffers: { part, o: out },
    uniforms: { C: l.cq, parts: used, n: m, scale: 1 },
    workgroups: [Math.ceil(m / 64)],
  });
  part.dispose();
  return out;
}
