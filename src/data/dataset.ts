import { nextSeedValue } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import { mulberry32 } from '../tensor/mulberry.js';
import { checkOptions } from '../tensor/options.js';
import { dispose, keep, type TensorContainer } from '../tensor/scope.js';
import { copyOf, Tensor } from '../tensor/tensor.js';

/** A function that starts a fresh pass: one async iterator per epoch. */
export type Source<T> = () => AsyncIterator<T>;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** Disposes the tensors an element holds (tensors in arrays and plain objects). */
function release(x: unknown): void {
  dispose(x as TensorContainer);
}

/** The tensors an element holds, in arrays and plain objects at any depth. */
function tensorsIn(x: unknown, out = new Set<Tensor>(), seen = new Set<unknown>()): Set<Tensor> {
  if (x instanceof Tensor) out.add(x);
  else if (x !== null && typeof x === 'object' && !seen.has(x)) {
    seen.add(x);
    if (Array.isArray(x)) for (const v of x) tensorsIn(v, out, seen);
    else if (Object.getPrototypeOf(x) === Object.prototype)
      for (const v of Object.values(x)) tensorsIn(v, out, seen);
  }
  return out;
}

/**
 * `map`'s ownership rule (tf.data's): after `fn(x)` returns `y`, the tensors of `x` that are not
 * in `y` are disposed; if `fn` throws, all of `x`'s are.
 */
function mapOwning<T, U>(fn: (x: T) => U | Promise<U>): (x: T) => Promise<U> {
  return async (x) => {
    let y: U;
    try {
      y = await fn(x);
    } catch (e) {
      release(x);
      throw e;
    }
    const out = tensorsIn(y);
    for (const t of tensorsIn(x)) if (!out.has(t)) t.dispose();
    return y;
  };
}

function assertCount(n: unknown, op: string, arg: string, min: number): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw new ArgumentError(`Dataset.${op}: ${arg} must be an integer >= ${min}, got ${String(n)}`);
  }
}

function assertFlag(v: unknown, op: string, arg: string): void {
  if (v !== undefined && typeof v !== 'boolean')
    throw new ArgumentError(`Dataset.${op}: ${arg} must be a boolean, got ${JSON.stringify(v)}`);
}

/**
 * Runs `fn` on up to `window` upstream elements at once while keeping their order. Upstream
 * `next()` calls stay sequential (stages are not re-entrant); only `fn` overlaps.
 */
function ordered<T, U>(
  src: AsyncIterator<T>,
  fn: (x: T) => U | Promise<U>,
  window: number,
): AsyncIterator<U> {
  const inflight: Array<Promise<IteratorResult<U>>> = [];
  let chain: Promise<unknown> = Promise.resolve();
  let srcDone = false;
  let closed = false;

  const start = (): void => {
    const got = chain.then(() => (srcDone || closed ? DONE : src.next()));
    chain = got.then(
      (r) => {
        if (r.done) srcDone = true;
      },
      () => {
        srcDone = true;
      },
    );
    const res = got.then(
      async (r): Promise<IteratorResult<U>> => (r.done ? DONE : { done: false, value: await fn(r.value) }),
    );
    // Seen as handled now: a later element may fail while the consumer awaits an earlier one.
    res.catch(() => {});
    inflight.push(res);
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const rest = inflight.splice(0);
    for (const r of await Promise.allSettled(rest)) {
      if (r.status === 'fulfilled' && !r.value.done) release(r.value.value);
    }
    await chain;
    await src.return?.();
  };

  return {
    async next(): Promise<IteratorResult<U>> {
      if (closed) return DONE;
      while (inflight.length < window && !srcDone) start();
      const head = inflight.shift();
      if (!head) return DONE;
      let r: IteratorResult<U>;
      try {
        r = await head;
      } catch (e) {
        await close();
        throw e;
      }
      if (r.done) await close();
      return r;
    },
    async return(): Promise<IteratorResult<U>> {
      await close();
      return DONE;
    },
  };
}

/** Options of `Dataset.batch`. */
export interface BatchOptions {
  /** Drop the last, smaller batch. Default false. */
  dropRemainder?: boolean;
}

/** Options of `Dataset.shuffle`. */
export interface ShuffleOptions {
  /** A new order each iteration (epoch), derived from the seed and the epoch number. Default true. */
  reshuffleEachIteration?: boolean;
}

/**
 * A lazy, re-iterable asynchronous sequence, in the spirit of `tf.data.Dataset`. Nothing runs
 * until the dataset is iterated; each `for await` starts a fresh pipeline (a new epoch).
 *
 * Ownership: the consumer owns every element it receives, tensors included, and must dispose them.
 * Elements the pipeline itself drops (filtered out, skipped, or produced ahead by `prefetch`,
 * parallel `map` or `shuffle` when iteration stops early) are disposed by the pipeline. Errors end
 * the iteration: the failing stage releases what it holds and rethrows.
 * No Node-only imports: this runs in browsers too.
 */
export class Dataset<T> implements AsyncIterable<T> {
  /** @internal */ protected readonly source: Source<T>;

  constructor(source: Source<T>) {
    if (typeof source !== 'function') {
      throw new ArgumentError(`${new.target.name}: expected a function that returns an async iterator`);
    }
    this.source = source;
  }

  /**
   * A dataset over an array or any iterable (iterated again each epoch, so a one-shot
   * generator object can only be read once), or over a function that returns a fresh iterable.
   */
  static from<T>(items: Iterable<T> | AsyncIterable<T> | (() => Iterable<T> | AsyncIterable<T>)): Dataset<T> {
    const iterable = (x: unknown) =>
      x !== null && typeof x === 'object' && (Symbol.iterator in x || Symbol.asyncIterator in x);
    if (typeof items !== 'function' && !iterable(items)) {
      throw new ArgumentError(
        `Dataset.from: items must be an iterable, an async iterable or a function returning one, got ${items === null ? 'null' : typeof items}`,
      );
    }
    const get = typeof items === 'function' ? items : () => items;
    return new Dataset<T>(async function* () {
      yield* get();
    });
  }

  /** Starts a pass over the elements (`for await (const x of ds)`); each call is a new epoch. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.source();
  }

  /** A fresh iterator of this dataset (subclasses override `[Symbol.asyncIterator]`). */
  private iter = (): AsyncIterator<T> => this[Symbol.asyncIterator]();

  /**
   * Applies `fn` to every element. `parallel` > 1 runs that many calls at once (order is kept).
   *
   * Tensors, as in tf.data: the tensors of the input element (in arrays and plain objects) that are
   * not part of `fn`'s result are disposed once `fn` returns, so
   * `ds.map((b) => ({ xs: div(b.xs, 255), ys: b.ys }))` frees the old `xs` and passes `ys` on. To
   * keep an input tensor beyond the call, return it or copy it. If `fn` throws, the input's tensors
   * are disposed.
   */
  map<U>(fn: (x: T) => U | Promise<U>, opts: { parallel?: number } = {}): Dataset<U> {
    if (typeof fn !== 'function') throw new ArgumentError('Dataset.map: fn must be a function');
    checkOptions<{ parallel?: number }>(opts, { parallel: true }, 'Dataset.map');
    const parallel = opts.parallel ?? 1;
    assertCount(parallel, 'map', 'parallel', 1);
    const owning = mapOwning(fn);
    return new Dataset<U>(() => ordered(this.iter(), owning, parallel));
  }

  /** Keeps the elements for which `pred` is true (the others are disposed). */
  filter(pred: (x: T) => boolean | Promise<boolean>): Dataset<T> {
    if (typeof pred !== 'function') throw new ArgumentError('Dataset.filter: pred must be a function');
    const self = this;
    return new Dataset<T>(async function* () {
      for await (const x of self) {
        let ok: boolean;
        try {
          ok = await pred(x);
        } catch (e) {
          release(x);
          throw e;
        }
        if (ok) yield x;
        else release(x);
      }
    });
  }

  /** Groups consecutive elements into arrays of `size` (the last one may be shorter). */
  batch(size: number, opts: BatchOptions = {}): Dataset<T[]> {
    assertCount(size, 'batch', 'size', 1);
    checkOptions<BatchOptions>(opts, { dropRemainder: true }, 'Dataset.batch');
    assertFlag(opts.dropRemainder, 'batch', 'dropRemainder');
    const self = this;
    return new Dataset<T[]>(async function* () {
      let buf: T[] = [];
      try {
        for await (const x of self) {
          buf.push(x);
          if (buf.length === size) {
            const out = buf;
            buf = [];
            yield out;
          }
        }
        if (buf.length > 0 && !opts.dropRemainder) {
          const out = buf;
          buf = [];
          yield out;
        }
      } finally {
        for (const x of buf) release(x);
      }
    });
  }

  /**
   * Randomly shuffles with a buffer of `bufferSize` elements, as `tf.data.Dataset.shuffle`: the
   * buffer is filled, then each output is a random buffer element replaced by the next input.
   * A buffer at least as large as the dataset gives a uniform shuffle. Without a seed, one is drawn
   * from the global sequence (`setSeed` makes it reproducible).
   */
  shuffle(bufferSize: number, seed?: number, opts: ShuffleOptions = {}): Dataset<T> {
    assertCount(bufferSize, 'shuffle', 'bufferSize', 1);
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new ArgumentError(`Dataset.shuffle: seed must be an integer, got ${seed}`);
    }
    const base = seed ?? nextSeedValue();
    checkOptions<ShuffleOptions>(opts, { reshuffleEachIteration: true }, 'Dataset.shuffle');
    assertFlag(opts.reshuffleEachIteration, 'shuffle', 'reshuffleEachIteration');
    const reshuffle = opts.reshuffleEachIteration ?? true;
    const self = this;
    let epoch = 0;
    return new Dataset<T>(async function* () {
      const e = reshuffle ? epoch++ : 0;
      const rand = mulberry32((Math.imul(base ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(e, 0x85ebca6b)) >>> 0);
      const buf: T[] = [];
      try {
        for await (const x of self) {
          if (buf.length < bufferSize) {
            buf.push(x);
            continue;
          }
          const i = Math.floor(rand() * bufferSize);
          const out = buf[i];
          buf[i] = x;
          yield out;
        }
        while (buf.length > 0) {
          const i = Math.floor(rand() * buf.length);
          const out = buf[i];
          buf[i] = buf[buf.length - 1];
          buf.pop();
          yield out;
        }
      } finally {
        for (const x of buf.splice(0)) release(x);
      }
    });
  }

  /** The first `n` elements. */
  take(n: number): Dataset<T> {
    assertCount(n, 'take', 'n', 0);
    const self = this;
    return new Dataset<T>(async function* () {
      if (n === 0) return;
      let i = 0;
      for await (const x of self) {
        yield x;
        if (++i >= n) return;
      }
    });
  }

  /** All but the first `n` elements (the skipped ones are disposed). */
  skip(n: number): Dataset<T> {
    assertCount(n, 'skip', 'n', 0);
    const self = this;
    return new Dataset<T>(async function* () {
      let i = 0;
      for await (const x of self) {
        if (i++ < n) release(x);
        else yield x;
      }
    });
  }

  /**
   * Keeps up to `n` elements produced ahead of the consumer, so upstream work (decoding, uploads)
   * overlaps with the consumer's work.
   */
  prefetch(n: number): Dataset<T> {
    assertCount(n, 'prefetch', 'n', 0);
    if (n === 0) return this;
    return new Dataset<T>(() => ordered(this.iter(), (x) => x, n + 1));
  }

  /**
   * Remembers the elements of the first complete iteration in memory and replays them after
   * (an interrupted first pass is discarded, as in tf.data). Tensors are copied: the cache keeps
   * its own copies and each iteration hands out fresh ones that the consumer owns and disposes.
   * Other values are shared, so do not mutate them. `clearCache()` frees the memory.
   */
  cache(): CachedDataset<T>;
  /**
   * With a filename, the first complete pass is written to `<filename>.<i>.safetensors` files
   * instead (Node), and later iterations — also in later runs — read them back.
   */
  cache(filename: string): Dataset<T>;
  cache(filename?: string): Dataset<T> {
    if (filename === undefined) return new CachedDataset(this.iter);
    if (typeof filename !== 'string' || filename === '') {
      throw new ArgumentError(
        `Dataset.cache: filename must be a non-empty string, got ${JSON.stringify(filename)}`,
      );
    }
    const source = this.iter;
    return new Dataset<T>(() => fileCached(source, filename));
  }

  /** Calls `fn` on every element in order, awaiting it. */
  async forEachAsync(fn: (x: T) => void | Promise<void>): Promise<void> {
    if (typeof fn !== 'function') throw new ArgumentError('Dataset.forEachAsync: fn must be a function');
    for await (const x of this) await fn(x);
  }

  /** All elements in an array. */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const x of this) out.push(x);
    return out;
  }
}

async function* fileCached<T>(source: Source<T>, filename: string): AsyncGenerator<T> {
  const store = await import('./file-cache.js');
  const count = await store.cachedCount(filename);
  if (count !== undefined) {
    for (let i = 0; i < count; i++) yield await store.readElement<T>(filename, i);
    return;
  }
  const it = source();
  let i = 0;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      await store.writeElement(filename, i++, r.value);
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
  await store.markComplete(filename, i);
}

/** Deep copy of the tensors in an element (arrays and plain objects are rebuilt around them). */
function cloneTensors<X>(x: X, kept: boolean): X {
  if (x instanceof Tensor) {
    const c = copyOf(x);
    return (kept ? keep(c) : c) as X;
  }
  if (Array.isArray(x)) return x.map((v) => cloneTensors(v, kept)) as X;
  if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = cloneTensors(v, kept);
    return out as X;
  }
  return x;
}

export class CachedDataset<T> extends Dataset<T> {
  private store: T[] | undefined;

  /** Starts a pass: the first pass fills the cache, later ones replay it. */
  override [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterate();
  }

  private async *iterate(): AsyncGenerator<T> {
    if (this.store) {
      for (const x of this.store) yield cloneTensors(x, false);
      return;
    }
    const fill: T[] = [];
    let complete = false;
    try {
      const it = this.source();
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          fill.push(cloneTensors(r.value, true));
          yield r.value;
        }
      } finally {
        // Make sure the upstream stage releases what it holds when we stop early.
        await it.return?.();
      }
      complete = true;
      if (this.store) release(fill);
      else this.store = fill;
    } finally {
      if (!complete) release(fill);
    }
  }

  /** Whether a complete pass is cached. */
  get isCached(): boolean {
    return this.store !== undefined;
  }

  /** Disposes the cached tensors; the next iteration reads upstream again. */
  clearCache(): void {
    if (this.store) release(this.store);
    this.store = undefined;
  }
}
