import { BatchNormalization, profile, type Tensor, tensor } from '../src/index.js';
import { randArray, rng } from './helpers.js';

/**
 * Runs `fn` under `profile` and returns the kernel families it dispatched (the profile keys up to
 * their constants, e.g. 'matmul_ws'), the whole keys (family and constants, e.g.
 * 'conv2d_pointwise_ws {"cin":144,...}') and the result's values; the result is disposed.
 */
export async function dispatchedKernels(
  fn: () => Tensor,
): Promise<{ kernels: string[]; keys: string[]; data: Float32Array }> {
  const p = await profile(fn);
  const data = (await p.result.data()) as Float32Array;
  p.result.dispose();
  return {
    kernels: p.kernels.map((k) => k.kernel.split(' ')[0]),
    keys: p.kernels.map((k) => k.kernel),
    data,
  };
}

/**
 * Assigns random moving statistics and affine weights to every BatchNormalization among `layers`
 * (means in [-0.5, 0.5], variances in [0.2, 2], gamma in [0.5, 1.5], beta in [-0.3, 0.3]) and
 * returns the tensors assigned, for the caller to dispose.
 */
export function randomBnStats(layers: readonly unknown[]): Tensor[] {
  const made: Tensor[] = [];
  for (const l of layers) {
    if (!(l instanceof BatchNormalization)) continue;
    const c = l.movingMean!.size;
    const r = rng(c * 3);
    for (const [v, lo, hi] of [
      [l.movingMean, -0.5, 0.5],
      [l.movingVariance, 0.2, 2],
      [l.gamma, 0.5, 1.5],
      [l.beta, -0.3, 0.3],
    ] as const) {
      const t = tensor(randArray(c, r, lo, hi));
      v?.assign(t);
      made.push(t);
    }
  }
  return made;
}
