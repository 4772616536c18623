/**
 * WGSL pieces shared by the weight-stationary kernels (conv-pointwise.ts, conv-window-ws.ts,
 * matmul-ws.ts): a subgroup of L lanes where lane `sgi` owns C output quads, keeps its weights
 * resident as values, and for each row of a run broadcasts the row's reduction values to every
 * lane and accumulates C vec4 FMAs per value.
 */

import { tuning } from './tuning.js';

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
 * Whether every block of C x L quads lies inside an output row of n4 quads, so that no lane is
 * idle and `quadStore` can drop the `ok` test (on lavapipe each lane's store runs lane by lane,
 * and the test around it measured 6-10% of a pointwise conv; bench/README.md, session 17).
 */
export function fullBlocks(n4: number, C: number, L: number): boolean {
  return n4 % (C * L) === 0;
}

/** The `full` kernel constant for an output row of n4 quads and blocks of C x L (absent when not). */
export function fullConstant(n4: number, C: number, L: number): { full?: true } {
  return fullBlocks(n4, C, L) ? { full: true } : {};
}

/** The WGSL store `store` of the lane's quad j, guarded by ok{j} (`laneQuads`) unless `full`. */
export function quadStore(j: number, full: boolean | undefined, store: string): string {
  return `${full ? '' : `if (ok${j}) `}{ ${store} }`;
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
 * resident weight quads to the accumulators a0..a{C-1}. With `split` > 1, value i goes into
 * partial sum i % split (a{j} itself for 0, fresh accumulators a{j}_1.. for the others), and the
 * partial sums are added into a{j} at the end: `split` independent add chains per accumulator
 * instead of one (see `partialSums`).
 */
export function broadcastFmas(
  n: number,
  C: number,
  source: (i: number) => [string, number],
  indent = '    ',
  split = 1,
): string {
  let s = '';
  for (let t = 1; t < split; t++) for (let j = 0; j < C; j++) s += `${indent}var a${j}_${t} = vec4f(0.0);\n`;
  const acc = (j: number, t: number) => (t === 0 ? `a${j}` : `a${j}_${t}`);
  for (let i = 0; i < n; i++) {
    const [v, lane] = source(i);
    s += `${indent}let s${i} = vec4f(subgroupBroadcast(${v}, ${lane}u));\n`;
    for (let j = 0; j < C; j++)
      s += `${indent}${acc(j, i % split)} = fma(s${i}, w${i}_${j}, ${acc(j, i % split)});\n`;
  }
  if (split > 1)
    for (let j = 0; j < C; j++)
      s += `${indent}a${j} = ${Array.from({ length: Math.min(split, n) }, (_, t) => acc(j, t)).join(' + ')};\n`;
  return s;
}

/**
 * Independent partial sums per accumulator for a weight-stationary kernel whose lanes own C
 * output quads and reduce n values per row (`broadcastFmas`). lavapipe runs a lane's vec4
 * accumulator as 4 vector registers; with one chain each, a row's n dependent adds (3-4 cycles
 * apiece, no FMA) bound the time when the chains are few (4 C) and long. Measured on lavapipe
 * (session 17, 256-bit, batch 64, interleaved): the pointwise convs with C 1 and n 96-144 took
 * 12-20% less with 3-4 partial sums, alone (96->24 at 48x48 17.2 -> 15.0 ms, 144->24 27.5 ->
 * 22.8, 144->32 7.8 -> 6.7) and inside MobileNetV2 (144->24 with its batch norm and residual,
 * per-dispatch timestamps, three runs: 19-29%). Cin 64-95 at C 1 takes the split by extension
 * (no such conv in MobileNetV2; not timed). No gain where the chains are short or many (32->192
 * at C 3, 64->384 at C 4, 16->96), the next row's chains then overlapping; with C >= 2 none that
 * held (96->576 at C 3 with 2 partial sums: 16% faster alone, 8-12% slower inside the network),
 * nor in the weight-stationary matmul, whose rows already interleave across chunks. The tuning
 * switch `wsPartialSums` forces a count.
 */
export function partialSums(n: number, C: number): number {
  const forced = tuning().wsPartialSums;
  if (forced !== undefined) return forced;
  if (n < 64) return 1;
  return C === 1 ? 4 : 1;
}

/** The `ps` kernel constant for n reduction values and C quads per lane (absent when 1). */
export function psConstant(n: number, c: number): { ps?: number } {
  const ps = partialSums(n, c);
  return ps > 1 ? { ps } : {};
}

/** `source` for rows loaded as vec4 quads xq0, xq1... spread over L lanes (see `spreadQuad`). */
export function quadSource(L: number): (i: number) => [string, number] {
  return (i) => {
    const q = i >> 2;
    return [`xq${Math.floor(q / L)}.${XYZW[i & 3]}`, q % L];
  };
}
