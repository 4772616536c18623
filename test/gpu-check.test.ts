import { describe, expect, it } from 'vitest';
import { runCheck } from '../scripts/gpu-check-lib.js';
import { memory, tensor } from '../src/index.js';

// scripts/gpu-check.ts exits 1 when any check's result is not ok: the comparison itself is tested here.
describe('gpu-check comparison', () => {
  const base = { family: 'test', name: 'x', atol: 1e-5, rtol: 1e-5 };
  it('passes within tolerance and fails past it, on NaN, on a length mismatch and on a throw', async () => {
    const n0 = memory().numTensors;
    const ok = await runCheck({ ...base, run: () => tensor([1, 2, 3]), want: () => [1, 2, 3.000001] }, 'v');
    expect(ok.ok).toBe(true);
    expect(ok.worst).toBeLessThan(1);
    const off = await runCheck({ ...base, run: () => tensor([1, 2, 3]), want: () => [1, 2, 3.001] }, 'v');
    expect(off).toMatchObject({ ok: false, variant: 'v' });
    expect(off.maxAbsErr).toBeCloseTo(0.001, 6);
    const nan = await runCheck({ ...base, run: () => tensor([Number.NaN]), want: () => [0] }, 'v');
    expect(nan.ok).toBe(false);
    const len = await runCheck({ ...base, run: () => tensor([1, 2]), want: () => [1] }, 'v');
    expect(len).toMatchObject({ ok: false, error: 'got 2 values, want 1' });
    const exact = await runCheck(
      { ...base, exact: true, run: () => tensor([1, 2]), want: () => [1, 2.0000001] },
      'v',
    );
    expect(exact.ok).toBe(false);
    const thrown = await runCheck(
      {
        ...base,
        run: () => {
          throw new Error('boom');
        },
        want: () => [1],
      },
      'v',
    );
    expect(thrown).toMatchObject({ ok: false, error: 'boom' });
    expect(memory().numTensors).toBe(n0);
  });
});
