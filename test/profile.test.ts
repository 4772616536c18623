import { describe, expect, it, vi } from 'vitest';
import {
  add,
  DeviceError,
  matmul,
  memory,
  profile,
  relu,
  resetPeakBytes,
  sum,
  sync,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import { currentDevice } from '../src/tensor/device.js';

describe('profile', () => {
  it('times every dispatch by kernel, passes the result through and leaves outputs unchanged', async () => {
    const a = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tensor([1, 0, 0, 1, 1, 1], [3, 2]);
    const expected = await tidy(() => relu(add(matmul(a, b), matmul(a, b)))).data();
    const before = memory().numTensors;
    const p = await profile(() => tidy(() => relu(add(matmul(a, b), matmul(a, b)))));
    expect(Array.from(await p.result.data())).toEqual(Array.from(expected));
    // Two matmuls (one pipeline), an add and a relu: 4 dispatches in 3 kernels.
    expect(p.dispatches).toBe(4);
    expect(p.kernels.map((k) => k.calls).reduce((x, y) => x + y, 0)).toBe(4);
    const mm = p.kernels.find((k) => k.kernel.startsWith('matmul'));
    expect(mm?.calls).toBe(2);
    expect(p.kernels.length).toBe(3);
    for (const k of p.kernels) expect(k.ms).toBeGreaterThanOrEqual(0);
    expect(p.kernelMs).toBeGreaterThan(0);
    expect(p.kernelMs).toBeCloseTo(
      p.kernels.reduce((s, k) => s + k.ms, 0),
      6,
    );
    for (let i = 1; i < p.kernels.length; i++)
      expect(p.kernels[i - 1].ms).toBeGreaterThanOrEqual(p.kernels[i].ms);
    expect(p.wallMs).toBeGreaterThan(0);
    // The result is the one new tensor (2x2 floats).
    expect(p.newTensors).toBe(1);
    expect(p.newBytes).toBe(16);
    expect(p.peakBytes).toBeGreaterThanOrEqual(memory().numBytes);
    p.result.dispose();
    expect(memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
  });

  it('counts dispatches across submitted batches (more than one batch of 128)', async () => {
    const x = tensor([1, 2, 3, 4]);
    const p = await profile(() =>
      tidy(() => {
        let y = x;
        for (let i = 0; i < 300; i++) y = add(y, x);
        return y;
      }),
    );
    expect(p.dispatches).toBe(300);
    expect(p.kernels).toHaveLength(1);
    expect(Array.from(await p.result.data())).toEqual([301, 602, 903, 1204]);
    p.result.dispose();
    x.dispose();
  });

  it('names kernels keyed by their WGSL text by its first line', async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const p = await profile(() => tidy(() => sum(x, 1)));
    expect(p.kernels.length).toBeGreaterThan(0);
    for (const k of p.kernels) expect(k.kernel).not.toContain('\n');
    expect(Array.from(await p.result.data())).toEqual([6, 15]);
    p.result.dispose();
    x.dispose();
  });

  it("reports fn's own memory peak and keeps the process-wide one", async () => {
    resetPeakBytes();
    zeros([1 << 20]).dispose(); // a 4 MiB peak before the profile
    const x = tensor([1, 2, 3, 4]);
    const p = await profile(() => tidy(() => add(add(x, x), x)));
    expect(p.peakBytes).toBeGreaterThanOrEqual(memory().numBytes);
    expect(p.peakBytes).toBeLessThan(1 << 20);
    expect(memory().peakBytes).toBeGreaterThanOrEqual(4 << 20);
    p.result.dispose();
    x.dispose();
  });

  it('says which feature is missing on an adapter without timestamp queries', async () => {
    const features = currentDevice().features;
    const spy = vi.spyOn(features, 'has').mockImplementation(() => false);
    try {
      await expect(profile(() => 1)).rejects.toThrow(DeviceError);
      await expect(profile(() => 1)).rejects.toThrow(
        "profile: the adapter does not offer the 'timestamp-query'",
      );
    } finally {
      spy.mockRestore();
    }
    expect((await profile(() => 1)).result).toBe(1);
  });

  it('stops timing when fn throws, and the next profile works', async () => {
    const x = tensor([1, 2]);
    await expect(
      profile(() => {
        add(x, x).dispose();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    // Not profiling any more: ops run normally and a new profile can start.
    const y = add(x, x);
    expect(Array.from(await y.data())).toEqual([2, 4]);
    const p = await profile(async () => {
      const z = add(x, x);
      await sync();
      z.dispose();
    });
    expect(p.dispatches).toBe(1);
    expect(p.newTensors).toBe(0);
    for (const t of [x, y]) t.dispose();
  });
});
