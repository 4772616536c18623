import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedTensorError,
  DTypeError,
  fill,
  keep,
  memory,
  ones,
  randomNormal,
  randomUniform,
  ShapeError,
  scalar,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';

describe('tensor creation and readback', () => {
  it('round-trips nested arrays, shapes and dtypes', async () => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('float32');
    expect(a.size).toBe(6);
    expect(await a.array()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const i = tensor([1, 2, 3, 4], [2, 2], 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([1, 2, 3, 4]);
    expect(await scalar(7).array()).toBe(7);
    expect(scalar(7).shape).toEqual([]);
    const b = tensor([true, false]);
    expect(b.dtype).toBe('bool');
    expect(Array.from(await b.data())).toEqual([1, 0]);
    expect(Array.from(await tensor(new Float32Array([1.5, 2.5])).data())).toEqual([1.5, 2.5]);
    expect(await tensor([], [0, 3]).array()).toEqual([]);
  });

  it('fills with zeros, ones and a value, including sizes off the workgroup grid', async () => {
    for (const n of [1, 255, 256, 257, 1000]) {
      expect(Array.from(await zeros([n]).data()).every((v) => v === 0)).toBe(true);
      expect(Array.from(await ones([n], 'int32').data()).every((v) => v === 1)).toBe(true);
      expect(Array.from(await fill([n], -2.5).data()).every((v) => v === -2.5)).toBe(true);
    }
  });

  it('draws seeded random numbers reproducibly with the right moments', async () => {
    const a = await randomNormal([20000], 2, 3, { seed: 42 }).data();
    const b = await randomNormal([20000], 2, 3, { seed: 42 }).data();
    expect(a).toEqual(b);
    let m = 0;
    let v = 0;
    for (const x of a) m += x;
    m /= a.length;
    for (const x of a) v += (x - m) ** 2;
    v /= a.length;
    expect(Math.abs(m - 2)).toBeLessThan(0.1);
    expect(Math.abs(Math.sqrt(v) - 3)).toBeLessThan(0.1);
    const u = await randomUniform([20000], -1, 3, { seed: 1 }).data();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...u)).toBeLessThan(3);
    const c = await randomNormal([100], 0, 1, { seed: 43 }).data();
    expect(c).not.toEqual(a.slice(0, 100));
    const ints = await randomUniform([1000], 0, 5, { seed: 3, dtype: 'int32' }).data();
    expect(new Set(ints)).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('rejects bad arguments with typed errors naming them', () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(ShapeError);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/shape \[2,2\] needs 4 values, but 3/);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => zeros([2, -1])).toThrow(/shape/);
    expect(() => zeros([2.5])).toThrow(ShapeError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => zeros([2], 'float64' as any)).toThrow(DTypeError);
    expect(() => randomUniform([2], 1, 1)).toThrow(ArgumentError);
    expect(() => randomNormal([2], 0, -1)).toThrow(/stddev/);
    expect(() => randomUniform([2], 0, 1, { seed: 1.5 })).toThrow(/seed/);
  });

  it('refuses to read or use a disposed tensor', async () => {
    const t = ones([3]);
    t.dispose();
    t.dispose(); // idempotent
    expect(t.isDisposed).toBe(true);
    await expect(t.data()).rejects.toThrow(DisposedTensorError);
  });
});

describe('memory and tidy', () => {
  it('tidy disposes intermediates, keeps results and kept tensors', async () => {
    const before = memory();
    let kept: ReturnType<typeof ones> | undefined;
    const out = tidy(() => {
      zeros([100]);
      kept = keep(ones([10]));
      const inner = tidy(() => {
        zeros([7]);
        return { a: ones([3]), b: [fill([2], 5)] };
      });
      expect(inner.a.isDisposed).toBe(false);
      return inner.b[0];
    });
    expect(out.isDisposed).toBe(false);
    expect(kept!.isDisposed).toBe(false);
    expect(memory().numTensors).toBe(before.numTensors + 2);
    expect(Array.from(await out.data())).toEqual([5, 5]);
    out.dispose();
    kept!.dispose();
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
  });

  it('tidy rejects async functions and disposes on throw', () => {
    const before = memory().numTensors;
    expect(() =>
      tidy(() => {
        zeros([3]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(memory().numTensors).toBe(before);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => tidy((async () => zeros([1])) as any)).toThrow(/synchronous/);
  });

  it('reuses pooled buffers', () => {
    const t = zeros([1000]);
    t.dispose();
    const pooled = memory().pooledBytes;
    expect(pooled).toBeGreaterThan(0);
    const u = zeros([1000]);
    expect(memory().pooledBytes).toBeLessThan(pooled);
    u.dispose();
  });
});

describe('memory().peakBytes', () => {
  it('is the high-water mark of live tensor bytes since resetPeakBytes()', async () => {
    const { memory, resetPeakBytes, zeros, tidy } = await import('../src/index.js');
    const before = memory().numBytes;
    resetPeakBytes();
    expect(memory().peakBytes).toBe(before);
    tidy(() => {
      const a = zeros([1000]);
      const b = zeros([3000]);
      a.dispose();
      b.dispose();
      zeros([500]);
    });
    const m = memory();
    expect(m.numBytes).toBe(before);
    // a and b were alive together: 16 kB over the baseline at the peak.
    expect(m.peakBytes).toBe(before + 4000 * 4);
    expect(resetPeakBytes()).toBe(before + 16000);
    expect(memory().peakBytes).toBe(before);
  });
});

describe('buffer pool', () => {
  it('when full, gives up the least recently used sizes rather than the buffer in use', async () => {
    const { zeros, sync, drainPool, memory } = await import('../src/index.js');
    const { setMaxPooledBytes } = await import('../src/tensor/pool.js');
    await sync();
    drainPool();
    setMaxPooledBytes(64 * 1024);
    try {
      for (const n of [8192, 4096]) {
        zeros([n]).dispose(); // 32 KiB, then 16 KiB: both pooled
        await sync();
      }
      expect(memory().pooledBytes).toBe(48 * 1024);
      zeros([12288]).dispose(); // 48 KiB: the 32 KiB buffer (oldest) makes room for it
      await sync();
      expect(memory().pooledBytes).toBe(64 * 1024);
      const allocated = memory().allocatedBytes;
      const again = zeros([12288]); // reuses the pooled 48 KiB buffer
      expect(memory().allocatedBytes).toBe(allocated);
      again.dispose();
      await sync();
    } finally {
      setMaxPooledBytes(1 << 30);
      drainPool();
    }
  });
});

describe('large uploads (mapped staging buffers, 1 MiB and up)', () => {
  // 262147 elements: just over 1 MiB and not a multiple of any workgroup or vector width.
  const N = 262147;
  it('round-trip float32, int32 and bool values exactly', async () => {
    const { rng, randArray, expectClose } = await import('./helpers.js');
    const exact = { atol: 0, rtol: 0 };
    const f = randArray(N, rng(5), -1e6, 1e6);
    const i = Int32Array.from(f, (v) => Math.trunc(v));
    const b = Array.from(f, (v) => v > 0);
    const tf = tensor(f, [N]);
    const ti = tensor(i, [1, N], 'int32');
    const tb = tensor(b, [N], 'bool');
    expectClose(await tf.data(), f, exact, 'float32');
    expectClose(await ti.data(), i, exact, 'int32');
    expectClose(
      await tb.data(),
      Int32Array.from(b, (v) => (v ? 1 : 0)),
      exact,
      'bool',
    );
    for (const t of [tf, ti, tb]) t.dispose();
  });

  it('work where there is no SharedArrayBuffer global (browser pages not cross-origin isolated)', async () => {
    const g = globalThis as { SharedArrayBuffer?: unknown };
    const saved = g.SharedArrayBuffer;
    delete g.SharedArrayBuffer;
    try {
      const t = tensor([1, 2, 3], [3]);
      expect(Array.from(await t.data())).toEqual([1, 2, 3]);
      t.dispose();
    } finally {
      g.SharedArrayBuffer = saved;
    }
  });

  it('take values in SharedArrayBuffer memory, small and large', async () => {
    const { rng, randArray, expectClose } = await import('./helpers.js');
    for (const n of [7, N]) {
      const f = randArray(n, rng(n), -10, 10);
      const shared = new Float32Array(new SharedArrayBuffer(n * 4 + 8), 8, n);
      shared.set(f);
      const si = new Int32Array(new SharedArrayBuffer(n * 4));
      si.set(Int32Array.from(f, (v) => Math.trunc(v)));
      const tf = tensor(shared, [n]);
      const ti = tensor(si, [n], 'int32');
      expectClose(await tf.data(), f, { atol: 0, rtol: 0 }, `float32 n=${n}`);
      expectClose(await ti.data(), si, { atol: 0, rtol: 0 }, `int32 n=${n}`);
      tf.dispose();
      ti.dispose();
    }
  });

  it('land in order with kernels still recorded: a reused buffer is read before it is overwritten', async () => {
    const { mul, sync, drainPool, rng, randArray, expectClose } = await Promise.all([
      import('../src/index.js'),
      import('./helpers.js'),
    ]).then(([a, h]) => ({ ...a, ...h }));
    await sync();
    drainPool(); // no clean buffer of this size: the upload below must take x's
    const a = randArray(N, rng(6));
    const c = randArray(N, rng(7));
    const x = tensor(a, [N]);
    await sync();
    const y = mul(x, 2); // recorded, not submitted
    x.dispose(); // its buffer goes to the pool while y's kernel still has to read it
    const allocated = memory().allocatedBytes;
    const z = tensor(c, [N]); // takes that buffer: its copy must run after y's kernel
    expect(memory().allocatedBytes).toBe(allocated);
    expectClose(
      await y.data(),
      a.map((v) => 2 * v),
      { atol: 0, rtol: 0 },
      'y = 2x, read before the upload',
    );
    expectClose(await z.data(), c, { atol: 0, rtol: 0 }, 'the upload');
    y.dispose();
    z.dispose();
  });

  it('reuse their staging buffers, free them with drainPool, and leak nothing when a fill throws', async () => {
    const { sync, drainPool } = await import('../src/index.js');
    const { uploadFilled } = await import('../src/tensor/creation.js');
    const settle = async () => {
      await sync();
      await new Promise((r) => setTimeout(r, 20)); // the staging buffer's re-map resolves
    };
    const data = new Float32Array(N).fill(3);
    tensor(data, [N]).dispose();
    await settle();
    const held = memory().stagingBytes;
    expect(held).toBeGreaterThanOrEqual(N * 4);
    for (let k = 0; k < 3; k++) {
      tensor(data, [N]).dispose();
      await settle();
    }
    expect(memory().stagingBytes).toBe(held);
    const before = memory();
    expect(() =>
      uploadFilled([N], 'float32', () => {
        throw new Error('fill failed');
      }),
    ).toThrow('fill failed');
    await settle();
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    const t = uploadFilled([2, N], 'float32', (dst) => new Float32Array(dst, 0, 2 * N).fill(-1));
    expect((await t.data()).every((v) => v === -1)).toBe(true);
    t.dispose();
    await settle();
    const kept = memory().stagingBytes;
    // A one-off upload over 64 MiB (weights) does not keep its staging buffer.
    const big = tensor(new Float32Array((64 << 20) / 4 + 4).fill(2), [(64 << 20) / 4 + 4]);
    await settle();
    expect(memory().stagingBytes).toBe(kept);
    expect((await big.data())[(64 << 20) / 4 + 3]).toBe(2);
    big.dispose();
    drainPool();
    expect(memory().stagingBytes).toBe(0);
  });
});
