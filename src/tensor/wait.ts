import { deviceFacts } from './device-info.js';
import { ArgumentError } from './errors.js';

/**
 * Waiting for the GPU without spinning a CPU core.
 *
 * Dawn for Node settles its promises (`mapAsync`, `onSubmittedWorkDone`, `popErrorScope`) by
 * polling: while one is pending, it re-queues an anonymous native callback with the global
 * `setImmediate` after every poll, which keeps Node's event loop, and one CPU core, busy until the
 * GPU is done. On a software adapter (lavapipe, SwiftShader) that core is taken from the threads
 * that run the kernels: MobileNetV2 at batch 64 on 2 cores spent 280-420 ms of main-thread CPU time
 * in that loop per 850-950 ms inference (bench/README.md). `gpuWait` begins the operation with
 * Dawn's callback re-queued on a 1 ms timer instead (after a short spin, so that a wait that ends
 * at once costs no timer), so the thread sleeps in the event loop between polls. Only that
 * callback is deferred: every other `setImmediate` call goes through unchanged, and the global is
 * restored when the last wait ends. Browsers (no `setImmediate`) and the 'spin' mode are untouched.
 */

/** How library waits for the GPU poll Dawn for Node: see {@link setWaitPolling}. */
export type WaitPolling = 'auto' | 'spin' | 'sleep';

/** Spin this long (ms) before the polls go to timers: a short wait costs no timer. */
const SPIN_MS = 0.25;
/** Milliseconds between the timer polls. */
const POLL_MS = 1;

let mode: WaitPolling = 'auto';

/**
 * How the library's waits for the GPU (`sync()`, `Tensor.data()`, readbacks inside `fit` and
 * `predict`) poll Dawn for Node: 'spin' keeps Dawn's own loop, which re-polls on every turn of
 * the event loop and keeps one CPU core busy until the GPU is done; 'sleep' polls every
 * millisecond from a timer after a 0.25 ms spin, leaving the core free; 'auto' (the default)
 * sleeps on software adapters, where the kernels run on the same CPU cores (MobileNetV2 at batch 64
 * on lavapipe with 2 cores: about 1.25x faster), and spins on GPUs, where a wait should end as
 * soon as the GPU does. Browsers poll by themselves: the setting has no effect there.
 *
 * @example
 * ```ts
 * setWaitPolling('spin'); // Dawn's default polling everywhere
 * ```
 */
export function setWaitPolling(m: WaitPolling): void {
  if (m !== 'auto' && m !== 'spin' && m !== 'sleep')
    throw new ArgumentError(
      `setWaitPolling: mode must be 'auto', 'spin' or 'sleep', got ${JSON.stringify(m)}`,
    );
  mode = m;
}

/** The polling mode set by {@link setWaitPolling}. */
export function waitPolling(): WaitPolling {
  return mode;
}

type Immediate = (fn: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
interface ImmediateHost {
  setImmediate?: Immediate;
}

const fnSource = Function.prototype.toString;
/** Dawn's poll callback: an anonymous native function (N-API), which no bound function is. */
function isDawnPoll(fn: unknown): boolean {
  return typeof fn === 'function' && fn.name === '' && fnSource.call(fn) === 'function () { [native code] }';
}

let depth = 0;
let original: Immediate | undefined;
let installed: Immediate | undefined;
let spinUntil = 0;

function install(): void {
  const host = globalThis as ImmediateHost;
  if (depth++ > 0) {
    spinUntil = Math.max(spinUntil, performance.now() + SPIN_MS);
    return;
  }
  const real = host.setImmediate as Immediate;
  original = real;
  spinUntil = performance.now() + SPIN_MS;
  installed = (fn, ...args) =>
    isDawnPoll(fn) && performance.now() >= spinUntil ? setTimeout(fn, POLL_MS, ...args) : real(fn, ...args);
  host.setImmediate = installed;
}

function uninstall(): void {
  if (--depth > 0) return;
  const host = globalThis as ImmediateHost;
  // Leave a setImmediate that someone else installed meanwhile in place.
  if (host.setImmediate === installed) host.setImmediate = original;
  original = undefined;
  installed = undefined;
}

/** Whether waits sleep between polls now (the mode, the adapter, and a Node event loop). */
function sleeping(): boolean {
  if (mode === 'spin') return false;
  if (typeof (globalThis as ImmediateHost).setImmediate !== 'function') return false;
  return mode === 'sleep' || deviceFacts().adapterClass === 'software';
}

/**
 * @internal Begins a Dawn operation with `begin` and awaits its promise, with Dawn's polling on
 * timers while it is pending when {@link setWaitPolling}'s mode says so.
 */
export async function gpuWait<T>(begin: () => Promise<T>): Promise<T> {
  if (!sleeping()) return begin();
  install();
  try {
    return await begin();
  } finally {
    uninstall();
  }
}
