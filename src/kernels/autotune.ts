import { randomUniform } from '../tensor/creation.js';
import { currentDevice, deviceInfo, onDeviceLost } from '../tensor/device.js';
import { deviceFacts } from '../tensor/device-info.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions } from '../tensor/options.js';
import { sync } from '../tensor/queue.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  type AdapterKey,
  adapterKey,
  isCandidate,
  localStorageStore,
  parseTuneCache,
  SPACE,
  serializeTuneCache,
  type TuneCandidates,
  type TuneFamily,
  type TuneStore,
} from './tune-cache.js';

/**
 * Autotuning: for the kernel families with real choices (see SPACE in tune-cache.ts), the winner
 * per adapter and shape class, measured by timing every candidate. Kernels ask `tunedChoice`; with
 * no winner they keep their defaults (chosen by adapter class and subgroup size). Winners come from
 * the cache at start (the first look-up after a device is created reads it: a file under the
 * user's cache folder in Node, localStorage in a browser; a bad or stale cache is ignored with one
 * warning), from `autotune()` (which times the shape classes met since `setAutotune(true)`, or the
 * ones given) and from `npx wgsl-nn tune`. Timing needs the GPU to finish, so it cannot run inside
 * the synchronous op that meets a new class: the op notes the class and runs with the default.
 */

/** A shape class met with autotune on and not yet timed, with a shape of that class to time. */
export interface TuneTask<F extends TuneFamily = TuneFamily> {
  /** The kernel family the class belongs to. */
  family: F;
  /** The shape class, as the family keys it in the cache. */
  cls: string;
  /** Makes inputs at a shape of the class (once per class; disposed after timing). */
  inputs: () => Tensor[];
  /** Runs the op once on them with `cand` forced; returns the output. */
  run: (cand: TuneCandidates[F], inputs: Tensor[]) => Tensor;
}

/** One timed shape class. */
export interface TuneResult {
  /** The cache key: the family and the shape class. */
  key: string;
  /** The fastest candidate configuration (a `TuneCandidates` entry of the family). */
  winner: unknown;
  /** Milliseconds per run of each candidate, by its JSON. */
  ms: Record<string, number>;
}

let store: TuneStore | undefined = localStorageStore();
let enabled = false;
let loadedFor: GPUDevice | undefined;
let adapter: AdapterKey | undefined;
const winners = new Map<string, unknown>();
const pending = new Map<string, TuneTask>();

onDeviceLost(() => {
  loadedFor = undefined;
  winners.clear();
  pending.clear();
});

/** @internal Sets where winners are kept (src/node.ts sets the file store; tests a temp folder). */
export function setTuneStore(s: TuneStore | undefined): void {
  store = s;
  loadedFor = undefined;
}

/** @internal Forgets the loaded winners: the next look-up reads the store again. */
export function resetAutotune(): void {
  loadedFor = undefined;
  winners.clear();
  pending.clear();
}

/** Reads the store once per device; a bad cache is ignored with one warning. */
function ensureLoaded(): void {
  const dev = currentDevice();
  if (loadedFor === dev) return;
  loadedFor = dev;
  winners.clear();
  adapter = adapterKey(deviceInfo());
  if (!store) return;
  let text: string | undefined;
  try {
    text = store.read(adapter);
  } catch (e) {
    console.warn(
      `wgsl-nn: ignoring the tuning cache ${store.where(adapter)}: unreadable (${(e as Error).message})`,
    );
    return;
  }
  if (text === undefined) return;
  const got = parseTuneCache(text, adapter);
  if ('reason' in got) {
    console.warn(`wgsl-nn: ignoring the tuning cache ${store.where(adapter)}: ${got.reason}`);
    return;
  }
  for (const [k, v] of got.winners) winners.set(k, v);
}

/**
 * Autotuning on first use: while on, ops that meet a shape class with no winner note it (and run
 * with the default); `await autotune()` then times the noted classes and stores the winners.
 */
export function setAutotune(on: boolean): void {
  if (typeof on !== 'boolean')
    throw new ArgumentError(`setAutotune: on must be a boolean, got ${String(on)}`);
  enabled = on;
}

/**
 * The winner of `family` for shape class `cls`, or undefined (then the kernel's default). With
 * autotune on, a class without a winner is noted with `task` for `autotune()`.
 */
export function tunedChoice<F extends TuneFamily>(
  family: F,
  cls: string,
  task?: () => Omit<TuneTask<F>, 'family' | 'cls'>,
): TuneCandidates[F] | undefined {
  ensureLoaded();
  const key = `${family}:${cls}`;
  const w = winners.get(key) as TuneCandidates[F] | undefined;
  if (w === undefined && enabled && task && !pending.has(key))
    pending.set(key, { family, cls, ...task() } as unknown as TuneTask);
  return w;
}

/** The shape classes noted by ops since `setAutotune(true)` and not yet timed. */
export function pendingTuneTasks(): TuneTask[] {
  return [...pending.values()];
}

/** The winners in force, by `<family>:<class>` (a copy). */
export function tunedWinners(): Map<string, unknown> {
  ensureLoaded();
  return new Map(winners);
}

/** @internal Sets a winner by hand (tests; `npx wgsl-nn tune` goes through autotune()). */
export function setWinner<F extends TuneFamily>(family: F, cls: string, cand: TuneCandidates[F]): void {
  if (!isCandidate(family, cand))
    throw new ArgumentError(`setWinner: not a ${family} candidate: ${JSON.stringify(cand)}`);
  ensureLoaded();
  winners.set(`${family}:${cls}`, cand);
}

/** Every candidate of a family: the product of its SPACE values, filtered by `keep`. */
export function candidates<F extends TuneFamily>(
  family: F,
  keep: (c: TuneCandidates[F]) => boolean = () => true,
): TuneCandidates[F][] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, values] of Object.entries(SPACE[family] as Record<string, readonly unknown[]>))
    out = out.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  return (out as unknown as TuneCandidates[F][]).filter(keep);
}

/** Shape class bucket: the power of 4 at or above n, from 4 to 65536 (capped). */
export function bucket(n: number): number {
  let b = 4;
  while (b < n && b < 65536) b *= 4;
  return b;
}

/** Options of `autotune`. */
export interface AutotuneOptions {
  /** Runs per timing (default 3); the best of 3 timings counts. */
  reps?: number;
  /** Write the winners to the store (default true). */
  save?: boolean;
  /** Keep only these candidates (by family), e.g. to bound the time. */
  filter?: (family: TuneFamily, cand: unknown) => boolean;
  /** Called after each class. */
  onResult?: (r: TuneResult) => void;
}

async function timeRuns(run: () => Tensor, reps: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < 3; trial++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) tidy(run).dispose();
    await sync();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}

/**
 * Times every candidate of each noted shape class (or of `tasks`), keeps the fastest as the
 * winner, and writes the winners to the cache (Node: a file under XDG_CACHE_HOME or ~/.cache/wgsl-nn).
 * Each candidate is warmed up once (its pipeline compiles) before it is timed.
 */
export async function autotune(
  opts: AutotuneOptions = {},
  tasks?: readonly TuneTask[],
): Promise<TuneResult[]> {
  checkOptions<AutotuneOptions>(opts, { reps: true, save: true, filter: true, onResult: true }, 'autotune');
  const reps = opts.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1)
    throw new ArgumentError(`autotune: reps must be a positive integer, got ${String(opts.reps)}`);
  ensureLoaded();
  const todo = tasks ?? [...pending.values()];
  pending.clear();
  const results: TuneResult[] = [];
  for (const t of todo) {
    const cands = candidates(t.family, (c) => opts.filter?.(t.family, c) ?? true);
    const ms: Record<string, number> = {};
    let winner: unknown;
    let best = Number.POSITIVE_INFINITY;
    const inputs = t.inputs();
    try {
      for (const c of cands) {
        const run = () => (t.run as (c: unknown, x: Tensor[]) => Tensor)(c, inputs);
        tidy(run).dispose();
        await sync();
        const m = await timeRuns(run, reps);
        ms[JSON.stringify(c)] = m;
        if (m < best) {
          best = m;
          winner = c;
        }
      }
    } finally {
      for (const x of inputs) x.dispose();
    }
    if (winner === undefined) continue;
    const key = `${t.family}:${t.cls}`;
    winners.set(key, winner);
    const r = { key, winner, ms };
    results.push(r);
    opts.onResult?.(r);
  }
  if (opts.save !== false && store && adapter && results.length)
    await store.write(adapter, serializeTuneCache(adapter, winners));
  return results;
}

/** Where the winners of this adapter are stored ('' when nowhere). */
export function tuneCacheLocation(): string {
  ensureLoaded();
  return store && adapter ? store.where(adapter) : '';
}

/** An input of uniform values in [-1, 1) for the timing runs. */
export function tuneInput(shape: number[], seed: number): Tensor {
  return randomUniform(shape, -1, 1, { seed });
}

/**
 * True on adapters that are not software (CPU) ones: the defaults of the tunable families then
 * favour parallelism (more, smaller work items) over the per-lane reuse that pays on lavapipe.
 */
export function gpuClass(): boolean {
  return deviceFacts().adapterClass !== 'software';
}
