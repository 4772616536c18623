import { chunks, grid, range } from './dispatch.js';
import { type DType, wgslType } from './dtype.js';
import { defineKernel } from './program.js';
import { emptyTensor, type Tensor } from './tensor.js';

/**
 * Counter-based random numbers: element i is a hash of (seed, i), so a seed gives the same tensor
 * whatever the dispatch layout. Normal values use Box-Muller on two hashed uniforms.
 */

/** truncatedNormal redraws values more than two standard deviations away, as Keras does. */
export type Distribution = 'uniform' | 'normal' | 'truncatedNormal';

const random = defineKernel<
  { dist: Distribution; t: 'f32' | 'i32' },
  'out',
  'n' | 'start' | 'seed' | '_pad' | 'a' | 'b'
>({
  name: 'random',
  bindings: ({ t }) => ({ out: `rw ${t}` }),
  uniforms: { n: 'u32', start: 'u32', seed: 'u32', _pad: 'u32', a: 'f32', b: 'f32' },
  index: { total: 'n', name: 'li' },
  helpers: () => `fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
// A uniform float in (0, 1): 24 random bits, never 0 so log() is finite.
fn unif(i: u32, stream: u32) -> f32 {
  let h = pcg(pcg(i ^ pcg(p.seed + stream * 0x9e3779b9u)) + stream);
  return (f32(h >> 8u) + 0.5) * (1.0 / 16777216.0);
}`,
  body: ({ dist, t }) => `  let i = li + p.start;
  ${body(dist, t)}`,
});

function body(dist: Distribution, t: 'f32' | 'i32'): string {
  if (dist === 'uniform') {
    return t === 'f32'
      ? 'out[li] = p.a + (p.b - p.a) * unif(i, 0u);'
      : 'out[li] = min(i32(floor(p.a + (p.b - p.a) * unif(i, 0u))), i32(p.b) - 1);';
  }
  if (dist === 'normal') {
    return 'out[li] = p.a + p.b * sqrt(-2.0 * log(unif(i, 0u))) * cos(6.283185307179586 * unif(i, 1u));';
  }
  // P(|z| > 2) = 4.6%: 16 redraws leave a 1e-21 chance of falling back to 0.
  return `var z = 0.0;
  for (var k = 0u; k < 16u; k++) {
    let c = sqrt(-2.0 * log(unif(i, 2u * k))) * cos(6.283185307179586 * unif(i, 2u * k + 1u));
    if (abs(c) <= 2.0) { z = c; break; }
  }
  out[li] = p.a + p.b * z;`;
}

/** `a`,`b` = [min, max) for uniform, [mean, stddev] for normal. */
export function randomKernel(
  shape: readonly number[],
  dist: Distribution,
  a: number,
  b: number,
  seed: number,
  dtype: DType,
): Tensor {
  const out = emptyTensor(shape, dtype);
  const t = wgslType(dtype);
  for (const [start, n] of chunks(out.size)) {
    random.run({
      constants: { dist, t },
      buffers: { out: range(out, start, n) },
      uniforms: { n, start, seed, _pad: 0, a, b },
      workgroups: grid(n),
    });
  }
  return out;
}
