/**
 * Plain TypeScript references for the elementwise ops (unary, binary, comparisons, where, clip,
 * cast). Float ops compute in float64 from the float32 inputs; results are stored in a
 * Float32Array (rounded) or an Int32Array (wrapped), as the GPU stores them. `Checks` batches
 * the readbacks of a test so that it waits for the GPU once.
 */

import { expect } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectClose, type Tol } from '../helpers.js';

export type DT = 'float32' | 'int32' | 'bool';
export type Data = Float32Array | Int32Array;

export interface Operand {
  data: ArrayLike<number>;
  shape: readonly number[];
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v !== 1 && d !== 1 && v !== d) throw new Error(`oracle: cannot broadcast ${shapes}`);
      if (v !== 1) d = v;
    }
    return d;
  });
}

/** Maps a flat output index to the flat index of an input broadcast to `outShape`. */
function indexer(outShape: readonly number[], inShape: readonly number[]): (i: number) => number {
  const r = outShape.length;
  const strides: number[] = new Array(r).fill(0);
  let acc = 1;
  for (let d = r - 1; d >= 0; d--) {
    const v = inShape[inShape.length - r + d] ?? 1;
    strides[d] = v === 1 ? 0 : acc;
    acc *= v;
  }
  return (i) => {
    let off = 0;
    for (let d = r - 1; d >= 0; d--) {
      const c = i % outShape[d];
      i = Math.floor(i / outShape[d]);
      off += c * strides[d];
    }
    return off;
  };
}

/** Applies `fn` elementwise over broadcast inputs (numbers are scalars). */
export function broadcastMap(
  inputs: readonly (Operand | number)[],
  outDtype: DT,
  fn: (...v: number[]) => number,
): { data: Data; shape: number[] } {
  const ops = inputs.map((x) => (typeof x === 'number' ? { data: [x], shape: [] } : x));
  const shape = broadcastShape(...ops.map((o) => o.shape));
  const n = sizeOf(shape);
  const out = outDtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  const idx = ops.map((o) => indexer(shape, o.shape));
  const args = new Array<number>(ops.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < ops.length; k++) args[k] = ops[k].data[idx[k](i)];
    out[i] = fn(...args);
  }
  return { data: out, shape };
}

// ---- unary ----

/** Round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

export const UNARY_F32: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  relu: (x) => Math.max(x, 0), // NaN stays NaN
  relu6: (x) => (Number.isNaN(x) ? x : Math.min(Math.max(x, 0), 6)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  sign: Math.sign,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  sin: Math.sin,
  cos: Math.cos,
  softplus: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
};

export const UNARY_I32: Record<string, (x: number) => number> = {
  neg: (x) => -x | 0,
  abs: (x) => Math.abs(x) | 0,
  square: (x) => Math.imul(x, x),
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  sign: Math.sign,
};

export const leakyReluRef = (alpha: number) => (x: number) => (x >= 0 ? x : Math.fround(alpha) * x);
export const stepRef = (alpha: number) => (x: number) =>
  Number.isNaN(x) ? x : x > 0 ? 1 : Math.fround(alpha);

// ---- binary ----

function intFloorDiv(a: number, b: number): number {
  if (b === 0) return 0;
  const q = Math.trunc(a / b);
  const r = a - q * b;
  return (r !== 0 && r < 0 !== b < 0 ? q - 1 : q) | 0;
}

function floorMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

function intPow(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b & 1 ? -1 : 1) : 0;
  let r = 1;
  let base = a;
  for (let e = b; e > 0; e >>= 1) {
    if (e & 1) r = Math.imul(r, base);
    base = Math.imul(base, base);
  }
  return r;
}

export const BINARY_F32: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  floorDiv: (a, b) => Math.floor(a / b),
  mod: floorMod,
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b)),
  pow: Math.pow,
  squaredDifference: (a, b) => (a - b) * (a - b),
};

export const BINARY_I32: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: Math.imul,
  div: intFloorDiv,
  floorDiv: intFloorDiv,
  mod: (a, b) => (b === 0 ? 0 : floorMod(a, b) | 0),
  maximum: Math.max,
  minimum: Math.min,
  pow: intPow,
  squaredDifference: (a, b) => Math.imul((a - b) | 0, (a - b) | 0),
};

export const COMPARE: Record<string, (a: number, b: number) => number> = {
  equal: (a, b) => +(a === b),
  notEqual: (a, b) => +(a !== b),
  less: (a, b) => +(a < b),
  lessEqual: (a, b) => +(a <= b),
  greater: (a, b) => +(a > b),
  greaterEqual: (a, b) => +(a >= b),
  logicalAnd: (a, b) => +(a !== 0 && b !== 0),
  logicalOr: (a, b) => +(a !== 0 || b !== 0),
};

// ---- select and cast ----

export const whereRef = (c: number, a: number, b: number) => (c !== 0 ? a : b);

export const clipRef = (lo: number, hi: number) => (x: number) =>
  Number.isNaN(x) ? x : Math.min(Math.max(x, lo), hi);

/** float -> int truncates (saturating, NaN -> 0); -> bool is x != 0 (NaN -> true). */
export function castRef(x: number, to: DT): number {
  if (to === 'bool') return x !== 0 ? 1 : 0;
  if (to === 'float32') return x;
  if (Number.isNaN(x)) return 0;
  return Math.min(Math.max(Math.trunc(x), -2147483648), 2147483647);
}

/** Collects output checks and reads every output back at once (one wait for the GPU). */
export class Checks {
  private readonly pending: Promise<void>[] = [];
  add(t: Tensor, exp: { data: ArrayLike<number>; shape: number[] }, tol: Tol, label: string): void {
    expect(t.shape, label).toEqual(exp.shape);
    this.pending.push(t.data().then((d) => expectClose(d, exp.data, tol, label)));
  }
  async done(): Promise<void> {
    const failed = (await Promise.allSettled(this.pending)).find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
