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

/**
 * Each lane makes 4 consecutive elements (one vec4 store when the chunk holds a multiple of 4): on
 * lavapipe the per-lane cost of a dispatch and of its stores is what counts, and the per-stream
 * seed hashes are computed once per lane. The values are the same function of (seed, i) whatever
 * the layout.
 */
const random = defineKernel<
  { dist: Distribution; t: 'f32' | 'i32'; v4: boolean },
  'out',
  'n' | 'start' | 'seed' | 'lanes' | 'a' | 'b'
>({
  name: 'random',
  bindings: ({ t, v4 }) => ({ out: v4 ? `rw vec4<${t}>` : `rw ${t}` }),
  uniforms: { n: 'u32', start: 'u32', seed: 'u32', lanes: 'u32', a: 'f32', b: 'f32' },
  index: { total: 'lanes', name: 'li' },
  helpers: ({ dist }) => `fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
// The seed's hash for a stream: the first step of unif(), the same for every element.
fn seedKey(stream: u32) -> u32 {
  return pcg(p.seed + stream * 0x9e3779b9u);
}
// A uniform float in (0, 1): 24 random bits, never 0 so log() is finite.
fn unif(i: u32, key: u32, stream: u32) -> f32 {
  let h = pcg(pcg(i ^ key) + stream);
  return (f32(h >> 8u) + 0.5) * (1.0 / 16777216.0);
}${dist === 'truncatedNormal' ? TRUNCATED : ''}`,
  body: ({ dist, t, v4 }) => {
    const ty = t === 'f32' ? 'f32' : 'i32';
    const keys = 'let k0 = seedKey(0u);\n  let k1 = seedKey(1u);';
    const one = `fn_value(p.start + j)`;
    const store = v4
      ? `var v: vec4<${ty}>;
  for (var q = 0u; q < 4u; q++) {
    let j = 4u * li + q;
    v[q] = ${one};
  }
  out[li] = v;`
      : `for (var q = 0u; q < 4u; q++) {
    let j = 4u * li + q;
    if (j < p.n) { out[j] = ${one}; }
  }`;
    return `  ${keys}
  ${store.replaceAll(one, valueExpr(dist, t))}`;
  },
});

// P(|z| > 2) = 4.6%: 16 redraws leave a 1e-21 chance of falling back to 0.
const TRUNCATED = `
fn truncated(i: u32, k0: u32, k1: u32) -> f32 {
  // The first draw (95% of elements) with the keys computed once per lane.
  var z = sqrt(-2.0 * log(unif(i, k0, 0u))) * cos(6.283185307179586 * unif(i, k1, 1u));
  if (abs(z) > 2.0) {
    z = 0.0;
    for (var k = 1u; k < 16u; k++) {
      let c = sqrt(-2.0 * log(unif(i, seedKey(2u * k), 2u * k))) *
        cos(6.283185307179586 * unif(i, seedKey(2u * k + 1u), 2u * k + 1u));
      if (abs(c) <= 2.0) { z = c; break; }
    }
  }
  return p.a + p.b * z;
}`;

/** The value of element `p.start + j` as one WGSL expression. */
function valueExpr(dist: Distribution, t: 'f32' | 'i32'): string {
  const i = 'p.start + j';
  if (dist === 'uniform') {
    return t === 'f32'
      ? `p.a + (p.b - p.a) * unif(${i}, k0, 0u)`
      : `min(i32(floor(p.a + (p.b - p.a) * unif(${i}, k0, 0u))), i32(p.b) - 1)`;
  }
  if (dist === 'normal') {
    return `p.a + p.b * sqrt(-2.0 * log(unif(${i}, k0, 0u))) * cos(6.283185307179586 * unif(${i}, k1, 1u))`;
  }
  return `truncated(${i}, k0, k1)`;
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
      constants: { dist, t, v4: n % 4 === 0 },
      buffers: { out: range(out, start, n) },
      uniforms: { n, start, seed, lanes: Math.ceil(n / 4), a, b },
      workgroups: grid(Math.ceil(n / 4)),
    });
  }
  return out;
}
