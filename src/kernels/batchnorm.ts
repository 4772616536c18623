import { fill } from '../tensor/creation.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { act4, activationWgsl } from './activation.js';
import { bucket, gpuClass, type TuneTask, tunedChoice, tuneInput } from './autotune.js';
import {
  channelMoments,
  gradSums,
  type Layout,
  layoutOf,
  maskedDy,
  read,
  rowLoop,
  rw,
} from './batchnorm-stats.js';
import { defineKernel } from './program.js';
import { tuning, withTuning } from './tuning.js';
import { assertBindable, assertDTypeIn, assertTensor, grid } from './util.js';

/**
 * Batch normalisation over the last axis (channels; NHWC activations or [batch, features]):
 * inference with given statistics, training with the batch's mean and biased variance (as Keras),
 * and the training-mode gradient.
 *
 * Every kernel gives a lane one channel quad (or one channel when C % 4 != 0) and a run of rows, so
 * the per-channel values are loaded once per run instead of once per element (loads are what
 * costs on lavapipe). Channel sums go through per-part partial sums and a second pass, which
 * keeps every lavapipe thread busy and the float32 sums short.
 */

/**
 * Rows per lane of the elementwise kernels: `tuning().batchNormRows`, else the autotuned winner of
 * the shape class, else 32 on software adapters (measured with the `batchNorm [64,48,48,144]` case
 * of bench/cases.ts) and 8 on GPUs (a guess for more lanes in flight, not measured: no GPU here).
 */
function rowsPerLane(l: Layout): number {
  return (
    tuning().batchNormRows ??
    tunedChoice('batchNorm', `${bucket(l.rows)}x${bucket(l.c)}`, () => batchNormTask(l))?.rows ??
    (gpuClass() ? 8 : 32)
  );
}

/** Times a class with an inference batch norm of its shape, the rows forced by the switch. */
function batchNormTask(l: Layout): Omit<TuneTask<'batchNorm'>, 'family' | 'cls'> {
  return {
    inputs: () => [tuneInput([l.rows, l.c], 1), tuneInput([l.c], 2), fill([l.c], 1)],
    run: (cand, [x, mean, variance]) =>
      withTuning({ batchNormRows: cand.rows }, () => batchNorm(x, mean, variance)),
  };
}

// ---------------------------------------------------------------------------------------------
// Kernels.

/** Activations the training-mode normalize can apply on the way out (graph fusion). */
export type BnActivation = 'linear' | 'relu' | 'relu6';

/**
 * y = x * s + t with s = scale / sqrt(var + eps), t = offset - mean * s (inference, and the
 * normalisation step of training).
 */
const normalizeKernel = defineKernel({
  name: 'batchnorm_normalize',
  bindings: (k: { vec: boolean; offset: boolean; scale: boolean; act: BnActivation }) => ({
    x: read(k.vec),
    mean: read(k.vec),
    variance: read(k.vec),
    y: rw(k.vec),
    offset: k.offset ? read(k.vec) : undefined,
    scale: k.scale ? read(k.vec) : undefined,
  }),
  uniforms: { rows: 'u32', C: 'u32', per: 'u32', n: 'u32', eps: 'f32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: (k) => `  let c = i % p.C;
  let r0 = (i / p.C) * p.per;
  let r1 = min(r0 + p.per, p.rows);
  let s = ${k.scale ? 'scale[c] * ' : ''}inverseSqrt(variance[c] + p.eps);
  let t = ${k.offset ? 'offset[c] - ' : '-'}mean[c] * s;
${rowLoop((j, u) => `    let j${u} = ${j};\n    y[j${u}] = ${(k.vec ? act4 : activationWgsl)(k.act, `fma(x[j${u}], s, t)`)};\n`)}`,
});

/** dx = gamma * inv * (dy - sum(dy) / rows - (x - mean) * inv^2 * sum(dy * (x - mean)) / rows). */
const gradKernel = defineKernel({
  name: 'batchnorm_grad',
  bindings: (k: { vec: boolean; gamma: boolean; mask?: boolean }) => ({
    dy: read(k.vec),
    x: read(k.vec),
    mean: read(k.vec),
    variance: read(k.vec),
    sums: read(k.vec),
    dx: rw(k.vec),
    gamma: k.gamma ? read(k.vec) : undefined,
    y: k.mask ? read(k.vec) : undefined,
  }),
  uniforms: { rows: 'u32', C: 'u32', per: 'u32', n: 'u32', eps: 'f32', invRows: 'f32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: (k) => `  let c = i % p.C;
  let r0 = (i / p.C) * p.per;
  let r1 = min(r0 + p.per, p.rows);
  let inv = inverseSqrt(variance[c] + p.eps);
  let a = ${k.gamma ? 'gamma[c] * ' : ''}inv;
  let m = mean[c];
  let b = sums[c] * p.invRows;
  let k = sums[p.C + c] * inv * inv * p.invRows;
${rowLoop((j, u) => `    let j${u} = ${j};\n    dx[j${u}] = a * (${maskedDy(k.vec, !!k.mask, `j${u}`)} - b - (x[j${u}] - m) * k);\n`)}`,
});

/** dgamma = sum(dy * (x - mean)) / sqrt(variance + eps) from the gradient's channel sums. */
const dgammaKernel = defineKernel({
  name: 'batchnorm_dgamma',
  bindings: (k: { vec: boolean }) => ({ sums: read(k.vec), variance: read(k.vec), o: rw(k.vec) }),
  uniforms: { C: 'u32', eps: 'f32' },
  workgroupSize: 64,
  builtins: ['gid'],
  body: () => `  let c = gid.x;
  if (c < p.C) { o[c] = sums[p.C + c] * inverseSqrt(variance[c] + p.eps); }`,
});

/** dbeta: a copy of the first C channel values of the gradient's sums. */
const copyKernel = defineKernel({
  name: 'batchnorm_copy',
  bindings: (k: { vec: boolean }) => ({ sums: read(k.vec), o: rw(k.vec) }),
  uniforms: { C: 'u32' },
  workgroupSize: 64,
  builtins: ['gid'],
  body: () => '  if (gid.x < p.C) { o[gid.x] = sums[gid.x]; }',
});

/** Moving averages in place: mm = mm * m + mean * om, mv = mv * m + variance * om. */
const movingKernel = defineKernel({
  name: 'batchnorm_moving',
  bindings: { mm: 'rw f32', mv: 'rw f32', mean: 'read f32', variance: 'read f32' },
  uniforms: { n: 'u32', m: 'f32', om: 'f32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: () => `  mm[i] = mm[i] * p.m + mean[i] * p.om;
  mv[i] = mv[i] * p.m + variance[i] * p.om;`,
});

// ---------------------------------------------------------------------------------------------
// Dispatch.

function lanes(l: Layout, per: number): number {
  return Math.ceil(l.rows / per) * l.cq;
}

function normalize(
  l: Layout,
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  eps: number,
  offset?: Tensor,
  scale?: Tensor,
  act: BnActivation = 'linear',
): Tensor {
  const y = emptyTensor(x.shape, 'float32');
  const per = rowsPerLane(l);
  const n = lanes(l, per);
  normalizeKernel.run({
    constants: { vec: l.vec, offset: !!offset, scale: !!scale, act },
    buffers: { x, mean, variance, y, offset, scale },
    uniforms: { rows: l.rows, C: l.cq, per, n, eps },
    workgroups: grid(n, 64),
  });
  return y;
}

// ---------------------------------------------------------------------------------------------
// Argument checks and public ops.

function checkX(x: unknown, op: string, arg = 'x'): asserts x is Tensor {
  assertTensor(x, op, arg);
  assertDTypeIn(x, ['float32'], op, arg);
  if (x.rank < 1)
    throw new ShapeError(`${op}: ${arg} must have rank >= 1 (channels last), got shape ${fmtShape(x.shape)}`);
  assertBindable(x, op, arg);
}

function checkChannel(t: unknown, c: number, op: string, arg: string): asserts t is Tensor {
  assertTensor(t, op, arg);
  assertDTypeIn(t, ['float32'], op, arg);
  if (t.rank !== 1 || t.shape[0] !== c) {
    throw new ShapeError(
      `${op}: ${arg} must have shape [${c}] (the channels of x), got ${fmtShape(t.shape)}`,
    );
  }
}

function checkEps(eps: unknown, op: string): number {
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) {
    throw new ArgumentError(`${op}: epsilon must be a non-negative finite number, got ${String(eps)}`);
  }
  return eps;
}

/**
 * Inference batch norm over the last axis: (x - mean) / sqrt(variance + epsilon) * scale + offset.
 * offset (beta) and scale (gamma) are optional (Keras center/scale = false).
 */
export function batchNorm(
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  offset?: Tensor,
  scale?: Tensor,
  epsilon = 1e-3,
): Tensor {
  const op = 'batchNorm';
  checkX(x, op);
  const l = layoutOf(x);
  checkChannel(mean, l.c, op, 'mean');
  checkChannel(variance, l.c, op, 'variance');
  if (offset !== undefined) checkChannel(offset, l.c, op, 'offset');
  if (scale !== undefined) checkChannel(scale, l.c, op, 'scale');
  const eps = checkEps(epsilon, op);
  const inputs = [x, mean, variance, ...(offset ? [offset] : []), ...(scale ? [scale] : [])];
  const attrs = { epsilon: eps, hasOffset: !!offset, hasScale: !!scale };
  if (x.size === 0) return recordOp(op, inputs, emptyTensor(x.shape, 'float32'), attrs);
  return recordOp(op, inputs, normalize(l, x, mean, variance, eps, offset, scale), attrs);
}

/** What `batchNormTraining` returns (the caller disposes all three). */
export interface BatchNormTrainingResult {
  /** The normalised output. */
  y: Tensor;
  /** Batch mean per channel. */
  mean: Tensor;
  /** Biased batch variance per channel (divided by the row count, as Keras normalises with). */
  variance: Tensor;
}

/**
 * Training batch norm: normalises with the batch statistics over every axis but the last. Returns
 * them too, for the moving averages (Keras: moving = moving * momentum + batch * (1 - momentum)).
 * The recorded op is y, with mean and variance in its attrs (for the gradient rule). `activation`
 * ('relu' or 'relu6', default 'linear') is applied on the way out, in the same pass: y is then
 * act(batch norm(x)), and the gradient takes act's mask from y.
 */
export function batchNormTraining(
  x: Tensor,
  gamma?: Tensor,
  beta?: Tensor,
  epsilon = 1e-3,
  activation: BnActivation = 'linear',
): BatchNormTrainingResult {
  const op = 'batchNormTraining';
  checkX(x, op);
  if (activation !== 'linear' && activation !== 'relu' && activation !== 'relu6') {
    throw new ArgumentError(
      `${op}: activation must be 'linear', 'relu' or 'relu6', got ${JSON.stringify(activation)}`,
    );
  }
  const l = layoutOf(x);
  if (gamma !== undefined) checkChannel(gamma, l.c, op, 'gamma');
  if (beta !== undefined) checkChannel(beta, l.c, op, 'beta');
  const eps = checkEps(epsilon, op);
  if (l.rows === 0) {
    throw new ShapeError(`${op}: x ${fmtShape(x.shape)} has no rows to take batch statistics over`);
  }
  // One statistics pass (mean and M2 per part, combined per channel), then one normalize pass
  // with the activation: x is read twice in all.
  const { mean, variance } = channelMoments(l, x);
  const y = normalize(l, x, mean, variance, eps, beta, gamma, activation);
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  recordOp(op, inputs, y, { epsilon: eps, mean, variance, hasGamma: !!gamma, hasBeta: !!beta, activation });
  return { y, mean, variance };
}

export interface BatchNormGradResult {
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
}

/**
 * The gradient of training-mode batch norm (y = gamma * (x - mean) / sqrt(variance + eps) + beta
 * with mean and variance the batch statistics of x): dx, and dgamma = sum(dy * xhat),
 * dbeta = sum(dy) over all rows. gamma may be omitted (scale = false: gamma = 1). With
 * `relu6Output` (the output of a ReLU6 fused into the forward pass), dy is first masked by ReLU6's
 * derivative there, in the same passes (as reluGrad would compute it, without its dispatch).
 */
export function batchNormGrad(
  dy: Tensor,
  x: Tensor,
  gamma: Tensor | undefined,
  mean: Tensor,
  variance: Tensor,
  epsilon = 1e-3,
  relu6Output?: Tensor,
): BatchNormGradResult {
  const op = 'batchNormGrad';
  checkX(dy, op, 'dy');
  checkX(x, op);
  if (relu6Output !== undefined) checkX(relu6Output, op, 'relu6Output');
  // dy and the fused ReLU6's output have x's shape.
  const likeX = (t: Tensor, name: string) => {
    if (t.shape.length !== x.shape.length || t.shape.some((d, k) => d !== x.shape[k]))
      throw new ShapeError(
        `${op}: ${name} ${fmtShape(t.shape)} must have the shape of x ${fmtShape(x.shape)}`,
      );
  };
  likeX(dy, 'dy');
  if (relu6Output !== undefined) likeX(relu6Output, 'relu6Output');
  const l = layoutOf(x);
  if (gamma !== undefined) checkChannel(gamma, l.c, op, 'gamma');
  checkChannel(mean, l.c, op, 'mean');
  checkChannel(variance, l.c, op, 'variance');
  const eps = checkEps(epsilon, op);
  if (l.rows === 0) throw new ShapeError(`${op}: x ${fmtShape(x.shape)} has no rows`);
  // sums[0] = sum(dy), sums[1] = sum(dy * (x - mean)).
  const sums = gradSums(l, x, mean, dy, relu6Output);
  const dx = emptyTensor(x.shape, 'float32');
  const per = rowsPerLane(l);
  const n = lanes(l, per);
  gradKernel.run({
    constants: { vec: l.vec, gamma: !!gamma, ...(relu6Output ? { mask: true } : {}) },
    buffers: { dy, x, mean, variance, sums, dx, gamma, y: relu6Output },
    uniforms: { rows: l.rows, C: l.cq, per, n, eps, invRows: 1 / l.rows },
    workgroups: grid(n, 64),
  });
  const dgamma = emptyTensor([l.c], 'float32');
  dgammaKernel.run({
    constants: { vec: l.vec },
    buffers: { sums, variance, o: dgamma },
    uniforms: { C: l.cq, eps },
    workgroups: [Math.ceil(l.cq / 64)],
  });
  const dbeta = emptyTensor([l.c], 'float32');
  // dbeta is the first half of sums: a copy keeps the results independent tensors.
  copyKernel.run({
    constants: { vec: l.vec },
    buffers: { sums, o: dbeta },
    uniforms: { C: l.cq },
    workgroups: [Math.ceil(l.cq / 64)],
  });
  sums.dispose();
  const inputs = [dy, x, ...(gamma ? [gamma] : []), mean, variance];
  recordOp(op, inputs, dx, { epsilon: eps, dgamma, dbeta, hasGamma: !!gamma });
  return { dx, dgamma, dbeta };
}

/**
 * Keras' moving averages after a training step, in place and in one dispatch:
 * `movingMean = movingMean * momentum + mean * (1 - momentum)`, the same for the variance. The
 * same arithmetic as composing mul and add (six dispatches and two copies per batch norm). Not
 * recorded: the moving statistics are state, not part of the differentiated computation.
 */
export function updateMovingStats(
  movingMean: Tensor,
  movingVariance: Tensor,
  mean: Tensor,
  variance: Tensor,
  momentum: number,
): void {
  const op = 'updateMovingStats';
  const all = { movingMean, movingVariance, mean, variance };
  for (const [name, t] of Object.entries(all)) {
    assertTensor(t, op, name);
    assertDTypeIn(t, ['float32'], op, name);
    if (t.rank !== 1 || t.size !== movingMean.size) {
      throw new ShapeError(
        `${op}: ${name} must have shape [${movingMean.size}] (as movingMean), got ${fmtShape(t.shape)}`,
      );
    }
  }
  if (typeof momentum !== 'number' || !Number.isFinite(momentum)) {
    throw new ArgumentError(`${op}: momentum must be a finite number, got ${momentum}`);
  }
  if (movingMean.size === 0) return;
  movingKernel.run({
    buffers: { mm: movingMean, mv: movingVariance, mean, variance },
    uniforms: { n: movingMean.size, m: momentum, om: 1 - momentum },
    workgroups: grid(movingMean.size, 64),
  });
}
