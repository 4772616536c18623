import { profile, type Tensor } from '../src/index.js';

/**
 * Runs `fn` under `profile` and returns the kernel families it dispatched (the profile keys up to
 * their constants, e.g. 'matmul_ws') with the result's values; the result is disposed.
 */
export async function dispatchedKernels(
  fn: () => Tensor,
): Promise<{ kernels: string[]; data: Float32Array }> {
  const p = await profile(fn);
  const data = (await p.result.data()) as Float32Array;
  p.result.dispose();
  return { kernels: p.kernels.map((k) => k.kernel.split(' ')[0]), data };
}
