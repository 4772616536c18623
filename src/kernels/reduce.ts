import type { DType } from '../tensor/dtype.js';
import { wgslType } from '../tensor/dtype.js';
import { ArgumentError, fmtShape } from '../tensor/errors.js';
import { fillKernel } from '../tensor/fill-kernel.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxes, normalizeAxis, sizeOf } from '../tensor/shape.js';
import { type ReduceAxis as Axis, emptyTensor, type Tensor } from '../tensor/tensor.js';
import type { Comb, Spec } from './reduce-kernels.js';
import { needsChunks, runReduce } from './reduce-plan.js';
import { assertDTypeIn, assertTensor } from './util.js';

/**
 * Reductions (sum, mean, max, min, prod, any, all, argMax, argMin, logSumExp): argument checks,
 * output shapes and dtypes, and the pass specs (planned in reduce-plan.ts, WGSL in
 * reduce-kernels.ts).
 */

type ReduceName = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'any' | 'all' | 'logSumExp';

const IDENTITY: Record<ReduceName, number | undefined> = {
  sum: 0,
  prod: 1,
  any: 0,
  all: 1,
  mean: Number.NaN,
  logSumExp: Number.NEGATIVE_INFINITY,
  max: undefined,
  min: undefined,
};

function checkKeepDims(keepDims: unknown, op: string): void {
  if (typeof keepDims !== 'boolean') {
    throw new ArgumentError(`${op}: keepDims must be a boolean, got ${String(keepDims)}`);
  }
}

function emptyAxisError(op: string, x: Tensor, axes: readonly number[]): ArgumentError {
  const a = axes.find((i) => x.shape[i] === 0);
  return new ArgumentError(
    `${op}: cannot reduce over axis ${a} of size 0 (x has shape ${fmtShape(x.shape)}): ${op} of an empty set is undefined`,
  );
}

function reduceOp(op: ReduceName, x: Tensor, axis: Axis | undefined, keepDims: boolean): Tensor {
  assertTensor(x, op, 'x');
  const allowed: DType[] =
    op === 'any' || op === 'all'
      ? ['bool']
      : op === 'logSumExp'
        ? ['float32', 'int32']
        : ['float32', 'int32', 'bool'];
  assertDTypeIn(x, allowed, op, 'x');
  checkKeepDims(keepDims, op);
  const axes = normalizeAxes(axis, x.rank, op);
  const outShape = keepDims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  const outDType: DType =
    op === 'mean' || op === 'logSumExp'
      ? 'float32'
      : (op === 'sum' || op === 'prod') && x.dtype === 'bool'
        ? 'int32'
        : x.dtype;
  const attrs = { axes, keepDims };
  const R = sizeOf(axes.map((a) => x.shape[a]));
  if (sizeOf(outShape) === 0) return recordOp(op, [x], emptyTensor(outShape, outDType), attrs);
  if (R === 0) {
    const id = IDENTITY[op];
    if (id === undefined) throw emptyAxisError(op, x, axes);
    return recordOp(op, [x], fillKernel(outShape, id, outDType), attrs);
  }
  needsChunks(x, axes, op);
  const inT = wgslType(x.dtype);
  const outT = wgslType(outDType);
  const float = op === 'mean' || op === 'logSumExp' ? 'f32' : inT;
  const base = { pre: 'none', post: 'none', inT, accT: float, outT, scale: 1 } as const;
  const out = emptyTensor(outShape, outDType);
  if (op === 'logSumExp') {
    const m = emptyTensor([sizeOf(outShape)], 'float32');
    runReduce({ ...base, comb: 'max', accT: inT, outT: 'f32' }, op, x, axes, undefined, m);
    runReduce({ ...base, comb: 'sum', pre: 'expm', post: 'lse' }, op, x, axes, m, out);
    m.dispose();
  } else {
    const comb: Comb = op === 'mean' ? 'sum' : op === 'any' ? 'max' : op === 'all' ? 'min' : op;
    const spec: Spec = { ...base, comb, scale: op === 'mean' ? 1 / R : 1 };
    runReduce(spec, op, x, axes, undefined, out);
  }
  return recordOp(op, [x], out, attrs);
}

/**
 * Sum over `axis` (a number, a list, or all axes when omitted); negative axes count from the end.
 * float32 -> float32, int32 and bool -> int32 (int32 sums wrap, as in TensorFlow.js).
 */
export function sum(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('sum', x, axis, keepDims);
}

/** Mean over `axis`; always float32 (int32 and bool inputs are accumulated in float32, as TF.js). */
export function mean(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('mean', x, axis, keepDims);
}

/** Maximum over `axis`, same dtype as `x`; NaN propagates. Throws on an axis of size 0. */
export function max(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('max', x, axis, keepDims);
}

/** Minimum over `axis`, same dtype as `x`; NaN propagates. Throws on an axis of size 0. */
export function min(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('min', x, axis, keepDims);
}

/** Product over `axis`; bool -> int32. */
export function prod(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('prod', x, axis, keepDims);
}

/** Logical or over `axis` of a bool tensor (false over an empty axis). */
export function any(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('any', x, axis, keepDims);
}

/** Logical and over `axis` of a bool tensor (true over an empty axis). */
export function all(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('all', x, axis, keepDims);
}

/** log(sum(exp(x))) over `axis`, computed as max + log(sum(exp(x - max))); float32 result. */
export function logSumExp(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('logSumExp', x, axis, keepDims);
}

function argOp(op: 'argMax' | 'argMin', x: Tensor, axis: number): Tensor {
  assertTensor(x, op, 'x');
  const a = normalizeAxis(axis, x.rank, op);
  const outShape = x.shape.filter((_, i) => i !== a);
  if (sizeOf(outShape) === 0) return recordOp(op, [x], emptyTensor(outShape, 'int32'), { axis: a });
  if (x.shape[a] === 0) throw emptyAxisError(op, x, [a]);
  needsChunks(x, [a], op);
  const t = wgslType(x.dtype);
  const spec: Spec = {
    comb: op === 'argMax' ? 'argmax' : 'argmin',
    pre: 'none',
    post: 'none',
    inT: t,
    accT: t,
    outT: 'i32',
    scale: 1,
  };
  const out = emptyTensor(outShape, 'int32');
  runReduce(spec, op, x, [a], undefined, out);
  return recordOp(op, [x], out, { axis: a });
}

/**
 * Index of the maximum along `axis` (default 0, as TF.js), int32. Ties give the first index; a
 * NaN counts as the maximum (the first NaN's index is returned, as NumPy).
 */
export function argMax(x: Tensor, axis = 0): Tensor {
  return argOp('argMax', x, axis);
}

/** Index of the minimum along `axis` (default 0), int32; first index on ties, NaN wins (NumPy). */
export function argMin(x: Tensor, axis = 0): Tensor {
  return argOp('argMin', x, axis);
}
