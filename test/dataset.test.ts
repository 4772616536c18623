import { describe, expect, it } from 'vitest';
import { CachedDataset, Dataset } from '../src/data/dataset.js';
import { ArgumentError, dispose, memory, reshape, setSeed, type Tensor, tensor } from '../src/index.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** A dataset that counts how many elements were pulled from it. */
function counted(n: number): { ds: Dataset<number>; pulled: () => number } {
  let pulled = 0;
  const ds = Dataset.from(function* () {
    for (let i = 0; i < n; i++) {
      pulled++;
      yield i;
    }
  });
  return { ds, pulled: () => pulled };
}

/** Elements holding a tensor each, to check that dropped elements are disposed. */
const tensors = (n: number) => Dataset.from(range(n)).map((i) => ({ i, t: tensor([i]) }));

describe('Dataset basics', () => {
  it('iterates arrays lazily and again for each epoch', async () => {
    const { ds, pulled } = counted(5);
    const mapped = ds.map((x) => x * 10);
    expect(pulled()).toBe(0);
    expect(await mapped.toArray()).toEqual([0, 10, 20, 30, 40]);
    expect(await mapped.toArray()).toEqual([0, 10, 20, 30, 40]);
    expect(pulled()).toBe(10);
    const seen: number[] = [];
    for await (const x of Dataset.from([3, 1, 2])) seen.push(x);
    await Dataset.from([4]).forEachAsync(async (x) => {
      await sleep(1);
      seen.push(x);
    });
    expect(seen).toEqual([3, 1, 2, 4]);
    expect(await Dataset.from([]).toArray()).toEqual([]);
  });

  it('maps (sync and async), filters, takes and skips', async () => {
    const ds = Dataset.from(range(10));
    expect(await ds.map(async (x) => x + 1).toArray()).toEqual(range(10).map((x) => x + 1));
    expect(await ds.filter((x) => x % 3 === 0).toArray()).toEqual([0, 3, 6, 9]);
    expect(await ds.filter(async (x) => x > 7).toArray()).toEqual([8, 9]);
    expect(await ds.take(3).toArray()).toEqual([0, 1, 2]);
    expect(await ds.take(0).toArray()).toEqual([]);
    expect(await ds.take(50).toArray()).toEqual(range(10));
    expect(await ds.skip(7).toArray()).toEqual([7, 8, 9]);
    expect(await ds.skip(20).toArray()).toEqual([]);
    expect(await ds.skip(2).take(2).toArray()).toEqual([2, 3]);
  });

  it('take stops pulling upstream once it has enough', async () => {
    const { ds, pulled } = counted(1000);
    expect(await ds.take(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(pulled()).toBe(4);
  });

  it('batches with and without the remainder', async () => {
    const ds = Dataset.from(range(7));
    expect(await ds.batch(3).toArray()).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(await ds.batch(3, { dropRemainder: true }).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(await ds.batch(1).toArray()).toEqual(range(7).map((x) => [x]));
    expect(await ds.batch(10).toArray()).toEqual([range(7)]);
    expect(await ds.take(6).batch(3).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
  });
});

describe('shuffle', () => {
  it('gives a permutation, reproducible for a seed, new each epoch', async () => {
    const ds = Dataset.from(range(100)).shuffle(100, 42);
    const e1 = await ds.toArray();
    const e2 = await ds.toArray();
    expect([...e1].sort((a, b) => a - b)).toEqual(range(100));
    expect([...e2].sort((a, b) => a - b)).toEqual(range(100));
    expect(e1).not.toEqual(range(100));
    expect(e2).not.toEqual(e1);
    // A second dataset with the same seed replays the same sequence of epochs.
    const again = Dataset.from(range(100)).shuffle(100, 42);
    expect(await again.toArray()).toEqual(e1);
    expect(await again.toArray()).toEqual(e2);
    expect(await Dataset.from(range(100)).shuffle(100, 43).toArray()).not.toEqual(e1);
    const fixed = Dataset.from(range(20)).shuffle(20, 1, { reshuffleEachIteration: false });
    expect(await fixed.toArray()).toEqual(await fixed.toArray());
  });

  it('with a buffer of 1 keeps the order; a small buffer moves elements only locally', async () => {
    expect(await Dataset.from(range(10)).shuffle(1, 3).toArray()).toEqual(range(10));
    const out = await Dataset.from(range(200)).shuffle(4, 3).toArray();
    expect([...out].sort((a, b) => a - b)).toEqual(range(200));
    // An element can only come out after the 3 that entered the buffer with it were read.
    out.forEach((v, pos) => {
      expect(v).toBeLessThanOrEqual(pos + 3);
    });
  });

  it('picks uniformly from the buffer (as tf.data)', async () => {
    // The first output is any of the first `bufferSize` elements with equal chance.
    const counts = new Array(10).fill(0);
    for (let seed = 0; seed < 300; seed++) {
      const [first] = await Dataset.from(range(40)).shuffle(10, seed).take(1).toArray();
      counts[first]++;
    }
    expect(counts.every((n) => n >= 12 && n <= 50)).toBe(true);
  });

  it('follows setSeed when no seed is given', async () => {
    setSeed(7);
    const a = await Dataset.from(range(50)).shuffle(50).toArray();
    setSeed(7);
    const b = await Dataset.from(range(50)).shuffle(50).toArray();
    expect(a).toEqual(b);
  });
});

describe('parallel map and prefetch', () => {
  it('runs up to `parallel` calls at once and keeps the order', async () => {
    let active = 0;
    let peak = 0;
    const delays = [30, 5, 20, 1, 15, 2, 25, 3];
    const fn = async (i: number) => {
      active++;
      peak = Math.max(peak, active);
      await sleep(delays[i]);
      active--;
      return i * 2;
    };
    const t = performance.now();
    expect(await Dataset.from(range(8)).map(fn, { parallel: 4 }).toArray()).toEqual(
      range(8).map((i) => i * 2),
    );
    const elapsed = performance.now() - t;
    expect(peak).toBe(4);
    expect(elapsed).toBeLessThan(delays.reduce((a, b) => a + b, 0));
    peak = 0;
    await Dataset.from(range(8)).map(fn).toArray();
    expect(peak).toBe(1);
  });

  it('prefetch runs the upstream ahead of the consumer', async () => {
    const { ds, pulled } = counted(20);
    const it = ds.prefetch(3)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    await sleep(5);
    // The element handed out plus 3 ready ahead.
    expect(pulled()).toBe(4);
    expect((await it.next()).value).toBe(1);
    await it.return?.();
    const { ds: ds2, pulled: pulled2 } = counted(20);
    const it2 = ds2.prefetch(0)[Symbol.asyncIterator]();
    await it2.next();
    await sleep(5);
    expect(pulled2()).toBe(1);
    await it2.return?.();
    expect(await Dataset.from(range(5)).prefetch(2).toArray()).toEqual(range(5));
  });

  it('overlaps a slow producer with a slow consumer', async () => {
    const ds = Dataset.from(range(6))
      .map(async (x) => {
        await sleep(20);
        return x;
      })
      .prefetch(2);
    const t = performance.now();
    await ds.forEachAsync(() => sleep(20));
    // Serial would be 6 * 40 ms; overlapped about 6 * 20 + 20.
    expect(performance.now() - t).toBeLessThan(200);
  });

  it('ends the iteration with the error of a failing element, in order, without unhandled rejections', async () => {
    const ds = Dataset.from(range(10)).map(
      async (x) => {
        await sleep(x === 6 ? 1 : 10);
        if (x === 6) throw new Error(`bad element ${x}`);
        return x;
      },
      { parallel: 4 },
    );
    const seen: number[] = [];
    await expect(ds.forEachAsync((x) => void seen.push(x))).rejects.toThrow('bad element 6');
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    const seen2: number[] = [];
    await expect(
      Dataset.from(range(5))
        .prefetch(2)
        .map((x) => {
          if (x === 3) throw new Error('sync failure');
          return x;
        })
        .forEachAsync((x) => void seen2.push(x)),
    ).rejects.toThrow('sync failure');
    expect(seen2).toEqual([0, 1, 2]);
  });
});

describe('tensors: the consumer owns what it gets, the pipeline disposes what it drops', () => {
  it('disposes elements produced ahead when iteration stops early', async () => {
    const before = memory().numTensors;
    const pipelines: Array<Dataset<{ i: number; t: Tensor }>> = [
      tensors(30).prefetch(4),
      tensors(30).shuffle(8, 1),
      tensors(30).map((x) => x, { parallel: 5 }),
    ];
    for (const ds of pipelines) {
      for await (const x of ds) {
        x.t.dispose();
        if (x.i >= 0) break;
      }
      await sleep(5);
      expect(memory().numTensors).toBe(before);
    }
    for await (const b of tensors(30).batch(4)) {
      for (const x of b) x.t.dispose();
      break;
    }
    expect(memory().numTensors).toBe(before);
  });

  it('disposes filtered-out and skipped elements', async () => {
    const before = memory().numTensors;
    const kept = await tensors(10)
      .filter((x) => x.i % 2 === 0)
      .skip(2)
      .toArray();
    expect(kept.map((x) => x.i)).toEqual([4, 6, 8]);
    expect(memory().numTensors).toBe(before + 3);
    for (const x of kept) x.t.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('disposes buffered elements after a failure', async () => {
    const before = memory().numTensors;
    const ds = tensors(20)
      .prefetch(5)
      .map((x) => {
        if (x.i === 2) throw new Error('boom');
        return x;
      });
    await expect(ds.forEachAsync((x) => x.t.dispose())).rejects.toThrow('boom');
    await sleep(5);
    // Element 2 reached the failing map function: map disposes the input of a call that throws.
    expect(memory().numTensors).toBe(before);
  });

  // Issue 15, bug 8: a map that dropped an input tensor leaked it (one batch per step).
  it("map disposes the input's tensors its result does not hold (tf.data's rule)", async () => {
    const before = memory().numTensors;
    const batches = Dataset.from(range(6)).map((i) => ({
      xs: tensor([i, i + 1], [1, 2]),
      ys: tensor([i], [1], 'int32'),
      extra: [tensor([i]), { deep: tensor([i]) }],
    }));
    const scaled = batches.map((b) => ({ xs: reshape(b.xs, [2]), ys: b.ys, n: 1 }));
    let steps = 0;
    for await (const b of scaled) {
      expect(memory().numTensors).toBe(before + 2); // only this step's xs view and ys
      expect(Array.from(await b.xs.data())).toEqual([steps, steps + 1]);
      expect(Array.from(await b.ys.data())).toEqual([steps]);
      b.xs.dispose();
      b.ys.dispose();
      steps++;
    }
    expect(steps).toBe(6);
    expect(memory().numTensors).toBe(before);
    // A result that returns the whole input (or disposes a part itself) loses nothing twice.
    const same = await batches
      .map((b) => {
        (b.extra[0] as Tensor).dispose();
        return b;
      })
      .take(2)
      .toArray();
    expect(memory().numTensors).toBe(before + 2 * 3);
    for (const b of same) dispose(b);
    expect(memory().numTensors).toBe(before);
  });
});

describe('cache', () => {
  it('reads upstream once and replays; an interrupted first pass is not kept', async () => {
    const { ds, pulled } = counted(5);
    const c = ds.cache();
    expect(c).toBeInstanceOf(CachedDataset);
    expect(await c.take(2).toArray()).toEqual([0, 1]);
    expect(c.isCached).toBe(false);
    expect(await c.toArray()).toEqual(range(5));
    expect(c.isCached).toBe(true);
    const p = pulled();
    expect(await c.map((x) => x + 1).toArray()).toEqual([1, 2, 3, 4, 5]);
    expect(await c.toArray()).toEqual(range(5));
    expect(pulled()).toBe(p);
    c.clearCache();
    expect(await c.toArray()).toEqual(range(5));
    expect(pulled()).toBe(p + 5);
  });

  it('hands out fresh tensor copies each epoch and frees its own on clearCache', async () => {
    const before = memory().numTensors;
    const c = tensors(4).cache();
    for (let epoch = 0; epoch < 3; epoch++) {
      const got = await c.toArray();
      expect(await Promise.all(got.map(async (x) => Array.from(await x.t.data())))).toEqual([
        [0],
        [1],
        [2],
        [3],
      ]);
      for (const x of got) x.t.dispose();
      expect(memory().numTensors).toBe(before + 4);
    }
    c.clearCache();
    expect(memory().numTensors).toBe(before);
    for await (const x of c) {
      x.t.dispose();
      break;
    }
    expect(memory().numTensors).toBe(before);
  });
});

describe('argument errors', () => {
  it('names the method, the argument and the value', () => {
    const ds = Dataset.from(range(3));
    expect(() => ds.batch(0)).toThrow(ArgumentError);
    expect(() => ds.batch(0)).toThrow('Dataset.batch: size must be an integer >= 1, got 0');
    expect(() => ds.batch(1.5)).toThrow('got 1.5');
    expect(() => ds.shuffle(0)).toThrow('Dataset.shuffle: bufferSize must be an integer >= 1, got 0');
    expect(() => ds.shuffle(2, 0.5)).toThrow('Dataset.shuffle: seed must be an integer, got 0.5');
    expect(() => ds.take(-1)).toThrow('Dataset.take: n must be an integer >= 0, got -1');
    expect(() => ds.skip(Number.NaN)).toThrow('Dataset.skip: n must be an integer >= 0, got NaN');
    expect(() => ds.prefetch(-2)).toThrow('Dataset.prefetch: n must be an integer >= 0, got -2');
    expect(() => ds.map((x) => x, { parallel: 0 })).toThrow(
      'Dataset.map: parallel must be an integer >= 1, got 0',
    );
    expect(() => ds.map(3 as never)).toThrow('Dataset.map: fn must be a function');
    expect(() => ds.filter(null as never)).toThrow('Dataset.filter: pred must be a function');
    expect(() => new Dataset(5 as never)).toThrow('Dataset: expected a function');
  });
});
