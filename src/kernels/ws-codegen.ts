/**
 * WGSL pieces shared by the weight-stationary kernels (conv-pointwise.ts, conv-window-ws.ts,
 * matmul-ws.ts): a subgroup of L lanes where lane `sgi` owns C output quads, keeps its weights
 * resident as values, and for each row of a run broadcasts the row's reduction values to every
 * lane and accumulates C vec4 FMAs per value.
 */

const XYZW = 'xyzw';

/**
 * The lane's output quads q0..q{C-1} (`qb + j * L`, clamped to `n4 - 1` for loads) and whether
 * each is inside the output (ok0..). `qb` and `n4` are WGSL expressions.
 */
export function laneQuads(C: number, L: number, qb: string, n4: string): string {
  let s = '';
  for (let j = 0; j < C; j++)
    s += `  let q${j} = min(${qb} + ${j * L}u, ${n4} - 1u);\n  let ok${j} = ${qb} + ${j * L}u < ${n4};\n`;
  return s;
}

/**
 * The lane's n x C weight quads as values w{i}_{j}, loaded once. They go through a private array
 * filled by a loop whose bound is the uniform `bound` (equal to n), so that NIR cannot unroll it:
 * unrolled, each of the n x C loads is its own per-lane load loop in lavapipe's code, and LLVM
 * took 2-20 s to compile them (0.5-1.6 s this way). `load(j)` is the WGSL load of quad j for the
 * loop's row `i`.
 */
export function residentWeights(
  n: number,
  C: number,
  bound: string,
  load: (j: number) => string,
  indent = '  ',
): string {
  let s = `${indent}var wr: array<vec4f, ${n * C}>;\n${indent}for (var i = 0u; i < ${bound}; i++) {\n`;
  for (let j = 0; j < C; j++) s += `${indent}  wr[i * ${C}u + ${j}u] = ${load(j)};\n`;
  s += `${indent}}\n`;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < C; j++) s += `${indent}let w${i}_${j} = wr[${i * C + j}];\n`;
  return s;
}

/**
 * The index of the quad that lane `sgi` loads in group g of a row of n4 quads spread over L
 * lanes (clamped where the last group is partial); `base` is the row's first quad.
 */
export function spreadQuad(g: number, L: number, n4: number, base: string): string {
  const G = Math.ceil(n4 / L);
  return `${base} + ${G * L > n4 ? `min(${g * L}u + sgi, ${n4 - 1}u)` : `${g * L}u + sgi`}`;
}

/**
 * For each of the row's n reduction values: broadcast it from the lane that loaded it
 * (`source(i)`: [WGSL scalar held by that lane, the lane]) and add its products with the C
 * resident weight quads to the accumulators a0..a{C-1}.
 */
export function broadcastFmas(
  n: number,
  C: number,
  source: (i: number) => [string, number],
  indent = '    ',
): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const [v, lane] = source(i);
    s += `${indent}let s${i} = vec4f(subgroupBroadcast(${v}, ${lane}u));\n`;
    for (let j = 0; j < C; j++) s += `${indent}a${j} = fma(s${i}, w${i}_${j}, a${j});\n`;
  }
  return s;
}

/** `source` for rows loaded as vec4 quads xq0, xq1... spread over L lanes (see `spreadQuad`). */
export function quadSource(L: number): (i: number) => [string, number] {
  return (i) => {
    const q = i >> 2;
    return [`xq${Math.floor(q / L)}.${XYZW[i & 3]}`, q % L];
  };
}
