import { deviceFacts } from '../tensor/device-info.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import type { Precision } from './matmul-f16.js';
import { defineKernel } from './program.js';
import { grid, maxBindingBytes } from './util.js';

/**
 * The f16 paths of `conv2d(..., { precision: 'f16' })` and `depthwiseConv2d(..., { precision:
 * 'f16' })` on adapters with `shader-f16`, as the f16 matmul (matmul-f16.ts): the input and the
 * filter are converted once to half-precision copies, and the usual kernels (conv.ts's implicit
 * GEMM with its pointwise fast path, depthwise.ts's strip and plain kernels) read them as f16, converting
 * each loaded value to f32: products, sums, bias, activation and the output stay f32. The copies
 * halve the bytes the kernels read (on GPUs, where convs are bandwidth-bound); converting inside
 * the kernels from the f32 tensors would only round. The error is that of rounding the operands
 * to f16 (relative 2^-11 each; values past 65504 become infinite). Forward only: the recorded op
 * is the plain one, so its gradient is the f32 rule, run in f32 (as the f16 matmul's).
 * Measured on lavapipe (test/conv-f16.test.ts): see bench/README.md.
 */

/**
 * A contiguous f32 [T, R, C] as a row-major f16 copy of [T, Rp, Cp] (Rp >= R, Cp >= C a multiple
 * of 4), zeros in the padding; one lane writes one quad. `flat` (no padding): one vec4 load per
 * quad instead of four scalar ones with their index arithmetic (1.5-2x faster on lavapipe).
 */
const toHalf = defineKernel({
  name: 'conv_to_f16',
  bindings: ({ flat }: { flat: boolean }) => ({ x: flat ? 'read vec4f' : 'read f32', h: 'rw vec4<f16>' }),
  uniforms: { n: 'u32', R: 'u32', C: 'u32', Rp: 'u32', Cp: 'u32' },
  enables: ['f16'],
  index: { total: 'n' },
  helpers: ({ flat }) =>
    flat
      ? ''
      : `fn at(t: u32, r: u32, c: u32) -> f16 {
  if (r >= p.R || c >= p.C) { return f16(0.0); }
  return f16(x[(t * p.R + r) * p.C + c]);
}`,
  body: ({ flat }) =>
    flat
      ? '  h[i] = vec4<f16>(x[i]);'
      : `  let e = 4u * i;
  let c = e % p.Cp;
  let r = (e / p.Cp) % p.Rp;
  let t = e / (p.Cp * p.Rp);
  h[i] = vec4<f16>(at(t, r, c), at(t, r, c + 1u), at(t, r, c + 2u), at(t, r, c + 3u));`,
});

/** Rounds n up to a multiple of 4. */
export function quad(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * The f16 copy of x viewed as [T, R, C] (contiguous), padded with zeros to [T, Rp, Cp] (Cp a
 * multiple of 4). A float32 tensor of T * Rp * Cp / 2 elements holds the halves.
 */
export function halfCopy(x: Tensor, T: number, R: number, C: number, Rp: number, Cp: number): Tensor {
  const n = (T * Rp * Cp) / 4;
  const h = emptyTensor([2 * n], 'float32');
  const flat = R === Rp && C === Cp;
  toHalf.run({ constants: { flat }, buffers: { x, h }, uniforms: { n, R, C, Rp, Cp }, workgroups: grid(n) });
  return h;
}

/**
 * True when a conv or depthwise conv runs its f16 path: precision 'f16' (checked by the option
 * checks), an adapter with shader-f16, and half copies of `halves` elements that can each be bound
 * (a copy padded to channel quads can outgrow the f32 tensor, e.g. one channel padded to four);
 * else the f32 kernels run.
 */
export function convUsesF16(precision: Precision, ...halves: number[]): boolean {
  if (precision !== 'f16' || !deviceFacts().hasF16) return false;
  return halves.every((n) => 2 * n <= maxBindingBytes());
}
