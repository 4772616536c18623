import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { notEqual } from './binary.js';
import type { BindingSpec } from './program.js';
import { assertBindable, assertTensor } from './util.js';

/** Options of `dotProductAttention`. */
export interface DotProductAttentionOptions {
  /** Multiplies q kᵀ (default 1/sqrt(dim)). */
  scale?: number;
  /** Keep only keys j <= i (Keras `useCausalMask`). */
  causal?: boolean;
  /** [batch, Tq, Tk] or [1, Tq, Tk]: nonzero (true) where query i may attend to key j. */
  mask?: Tensor;
}

/** The sizes of an attention call. */
export interface Geometry {
  b: number;
  tq: number;
  tk: number;
  h: number;
  d: number;
  dv: number;
  causal: boolean;
  mask: 'none' | 'batch' | 'shared';
}

/** Validates the arguments of the attention ops; a float mask becomes a bool one (a new tensor). */
export function attentionArgs(
  op: string,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: DotProductAttentionOptions,
): { g: Geometry; mask?: Tensor; scale: number } {
  for (const [t, name] of [
    [q, 'q'],
    [k, 'k'],
    [v, 'v'],
  ] as const) {
    assertTensor(t, op, name);
    if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${name} must be float32, got ${t.dtype}`);
    if (t.rank !== 4) {
      throw new ShapeError(
        `${op}: ${name} must be [batch, T, heads, dim] (rank 4), got ${fmtShape(t.shape)}`,
      );
    }
    assertBindable(t, op, name);
  }
  if (opts === null || typeof opts !== 'object') {
    throw new ArgumentError(`${op}: options must be an object, got ${JSON.stringify(opts)}`);
  }
  const [b, tq, h, d] = q.shape;
  const [, tk, , dv] = v.shape;
  if (k.shape[0] !== b || k.shape[2] !== h || k.shape[3] !== d) {
    throw new ShapeError(
      `${op}: k must be [${b}, Tk, ${h}, ${d}] to match q ${fmtShape(q.shape)}, got ${fmtShape(k.shape)}`,
    );
  }
  if (v.shape[0] !== b || v.shape[1] !== k.shape[1] || v.shape[2] !== h) {
    throw new ShapeError(
      `${op}: v must be [${b}, ${k.shape[1]}, ${h}, dimV] to match k ${fmtShape(k.shape)}, got ${fmtShape(v.shape)}`,
    );
  }
  if (d > 256 || dv > 256) {
    throw new ShapeError(`${op}: head dims up to 256 are supported, got ${d} (q, k) and ${dv} (v)`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(Math.max(1, d));
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new ArgumentError(`${op}: scale must be a finite number, got ${JSON.stringify(opts.scale)}`);
  }
  const causal = opts.causal ?? false;
  if (typeof causal !== 'boolean') {
    throw new ArgumentError(`${op}: causal must be a boolean, got ${JSON.stringify(opts.causal)}`);
  }
  let mask: Tensor | undefined;
  let kind: Geometry['mask'] = 'none';
  if (opts.mask !== undefined) {
    mask = opts.mask;
    assertTensor(mask, op, 'mask');
    if (
      mask.rank !== 3 ||
      (mask.shape[0] !== b && mask.shape[0] !== 1) ||
      mask.shape[1] !== tq ||
      mask.shape[2] !== tk
    ) {
      throw new ShapeError(
        `${op}: mask must be [${b}, ${tq}, ${tk}] or [1, ${tq}, ${tk}], got ${fmtShape(mask.shape)}`,
      );
    }
    kind = mask.shape[0] === b ? 'batch' : 'shared';
    if (b === 1) kind = 'shared';
    if (mask.dtype === 'float32') mask = notEqual(mask, 0);
  }
  return { g: { b, tq, tk, h, d, dv, causal, mask: kind }, mask, scale };
}

/** The uniforms every attention kernel declares: query and key lengths, heads, and the score scale. */
export const ATTENTION_UNIFORMS = { tq: 'u32', tk: 'u32', h: 'u32', scale: 'f32' } as const;

/**
 * The bindings every attention kernel starts with: q, k and v of element type `t`, then the i32
 * mask unless `mask` is 'none'.
 */
export function qkvBindings(t: string, mask: 'none' | 'batch' | 'shared'): Record<string, BindingSpec> {
  const b: Record<string, BindingSpec> = { q: `read ${t}`, k: `read ${t}`, v: `read ${t}` };
  if (mask !== 'none') b.mask = 'read i32';
  return b;
}
