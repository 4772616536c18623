/**
 * Timing: `warmup` untimed runs, then `reps` timed runs, each timed on its own from launch until
 * the GPU reports completion (the callback awaits it), so every sample includes GPU time and
 * nothing is subtracted. The median is the headline number; samples are kept for the JSON.
 * Slow cases get fewer repetitions (a time budget) so that a full run stays within minutes.
 *
 * Every side runs inside `gpuWait` (src/tensor/wait.ts), so the peers that wait on Dawn in this
 * process (TF.js, onnxruntime-web's WebGPU EP) poll it the way our library does: on a software
 * adapter Dawn for Node's poll goes to 1 ms timers instead of spinning a core that lavapipe's
 * threads need (session 10: onnxruntime-web's WebGPU EP on MobileNetV2 b64 7.95-8.52 s spinning,
 * 6.77-8.19 s with the timers). Peers that do not wait on Dawn (ort-wasm, ort-node-cpu) are
 * untouched: only Dawn's own poll callback is deferred.
 */
import { gpuWait } from '../src/tensor/wait.js';

export interface Timing {
  median: number;
  min: number;
  max: number;
  reps: number;
  samples: number[];
}

export interface MeasureOptions {
  warmup: number;
  /** Repetitions wanted; fewer (but at least `minReps`) when they would exceed `budgetMs`. */
  reps: number;
  /** Time budget of the timed repetitions (0 or undefined: always `reps`). */
  budgetMs?: number;
  minReps?: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One side of a comparison. */
export interface Side<T> {
  /** Launches one repetition; resolves when its result is complete (on the GPU: flushed and
   * `onSubmittedWorkDone`). */
  run: () => Promise<T>;
  /** Untimed: frees what the repetition produced. */
  cleanup: (result: T) => void;
}

function summarize(samples: number[]): Timing {
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    reps: samples.length,
    samples,
  };
}

/**
 * Times several sides of one case with their repetitions interleaved (A B A B ...), so that load
 * from other processes on a shared machine hits every side alike. A new round starts only if,
 * judged by the previous one, it ends within the budget (per side: `budgetMs` each).
 */
export async function measureSides(sides: readonly Side<unknown>[], opts: MeasureOptions): Promise<Timing[]> {
  for (const s of sides) for (let i = 0; i < opts.warmup; i++) s.cleanup(await gpuWait(s.run));
  const samples: number[][] = sides.map(() => []);
  const minReps = opts.minReps ?? 3;
  const budget = (opts.budgetMs ?? 0) * sides.length;
  let total = 0;
  let lastRound = 0;
  for (let i = 0; i < opts.reps; i++) {
    if (budget > 0 && i >= minReps && total + lastRound > budget) break;
    lastRound = 0;
    for (const [k, s] of sides.entries()) {
      const t0 = performance.now();
      const r = await gpuWait(s.run);
      const dt = performance.now() - t0;
      samples[k].push(dt);
      lastRound += dt;
      s.cleanup(r);
    }
    total += lastRound;
  }
  return samples.map(summarize);
}

/** Times one side (see `measureSides`). */
export async function measure<T>(
  run: () => Promise<T>,
  cleanup: (result: T) => void,
  opts: MeasureOptions,
): Promise<Timing> {
  const [t] = await measureSides([{ run, cleanup } as Side<unknown>], opts);
  return t;
}

/**
 * Whether this code runs from the device bundle (scripts/device-bundle.mjs, whose banner sets the
 * flag): there every module shares the bundle's URL and esbuild is not installed.
 */
export function inDeviceBundle(): boolean {
  return (globalThis as { WGSL_NN_BUNDLED?: boolean }).WGSL_NN_BUNDLED === true;
}

/** Largest |a[i] - b[i]| (NaN anywhere, or a length mismatch, gives Infinity). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Deterministic uniform values in [lo, hi) (xorshift32), so every run benches the same data. */
export function seededUniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const scale = (hi - lo) / 4294967296;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + (s >>> 0) * scale;
  }
  return out;
}

export function fmt(x: number | undefined, digits = 2): string {
  if (x === undefined || Number.isNaN(x)) return '-';
  if (x >= 1000) return x.toFixed(0);
  if (x >= 100) return x.toFixed(1);
  return x.toFixed(digits);
}

/** Renders rows as a Markdown table (also readable on a terminal); `left` columns align left. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  left: readonly number[] = [0, 1],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const isLeft = (i: number) => left.includes(i);
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (isLeft(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  // The separator row in the style Biome formats Markdown to, so pasted tables stay unchanged.
  const sep = `| ${widths.map((w, i) => (isLeft(i) ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}
