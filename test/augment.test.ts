import { describe, expect, it } from 'vitest';
import { memory, tensor, tidy } from '../src/index.js';
import { affineResample, affineResampleGrad } from '../src/kernels/augment.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, rng } from './helpers.js';
import { affineResampleCpu, type FillMode } from './oracle/augment.js';

// GPU float32 vs the float64 oracle: the sampling point is computed in float32 on both Keras/JAX
// and here, so values differ by rounding of the weights only.
const TOL = { atol: 2e-5, rtol: 1e-5 };
const MODES: FillMode[] = ['reflect', 'wrap', 'constant', 'nearest'];

function randomRows(b: number, h: number, w: number, r: () => number): number[][] {
  return Array.from({ length: b }, () => {
    const a = (r() - 0.5) * 2;
    const s = 0.7 + r() * 0.8;
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    const c = Math.cos(a) * s;
    const sn = Math.sin(a) * s;
    // rotation + zoom about the centre, and a shift that sends some taps outside
    return [c, -sn, cx - c * cx + sn * cy + (r() - 0.5) * w, sn, c, cy - sn * cx - c * cy + (r() - 0.5) * h];
  });
}

describe('affineResample', () => {
  for (const [b, h, w, ch] of [
    [1, 1, 1, 1],
    [2, 7, 5, 3],
    [3, 33, 17, 2],
  ])
    for (const fillMode of MODES)
      for (const interpolation of ['bilinear', 'nearest'] as const)
        it(`${b}x${h}x${w}x${ch} ${fillMode} ${interpolation}`, async () => {
          const r = rng(h * 31 + w);
          const data = randArray(b * h * w * ch, r);
          const rows = randomRows(b, h, w, r);
          const before = memory().numTensors;
          const out = tidy(() =>
            affineResample(tensor(data, [b, h, w, ch]), tensor(Float32Array.from(rows.flat()), [b, 6]), {
              fillMode,
              interpolation,
              fillValue: 0.25,
              outputSize: [h + 1, w],
            }),
          );
          const got = await out.data();
          out.dispose();
          expect(memory().numTensors).toBe(before);
          // float32 rows, as the GPU sees them
          const rows32 = rows.map((row) => Array.from(Float32Array.from(row)));
          const want = affineResampleCpu({
            data,
            shape: [b, h, w, ch],
            transforms: rows32,
            outH: h + 1,
            outW: w,
            fillMode,
            interpolation,
            fillValue: 0.25,
          });
          expectClose(got, want, interpolation === 'nearest' ? { atol: 0 } : TOL);
        });

  for (const fillMode of MODES)
    for (const interpolation of ['bilinear', 'nearest'] as const)
      it(`gradient w.r.t. the image, ${fillMode} ${interpolation}`, async () => {
        const [b, h, w, ch] = [2, 5, 4, 2];
        const r = rng(7);
        const rows = randomRows(b, h, w, r).map((row) => Array.from(Float32Array.from(row)));
        const t = tensor(Float32Array.from(rows.flat()), [b, 6]);
        await checkGrad({
          label: `affineResample ${fillMode} ${interpolation}`,
          f: (x) => affineResample(x, t, { fillMode, interpolation, fillValue: 0.5 }),
          oracle: ([x]) =>
            affineResampleCpu({
              data: x,
              shape: [b, h, w, ch],
              transforms: rows,
              fillMode,
              interpolation,
              fillValue: 0.5,
            }),
          inputs: [{ shape: [b, h, w, ch], data: randArray(b * h * w * ch, r) }],
        });
        t.dispose();
      });

  // affineResampleGrad is itself an op (the transpose of the resample); its own gradient is the
  // resample again. Its oracle is the transpose built column by column from the forward oracle.
  for (const fillMode of MODES)
    it(`affineResampleGrad's own gradient, ${fillMode} bilinear`, async () => {
      const [b, h, w, ch] = [2, 4, 3, 2];
      const r = rng(11);
      const rows = randomRows(b, h, w, r).map((row) => Array.from(Float32Array.from(row)));
      const t = tensor(Float32Array.from(rows.flat()), [b, 6]);
      const n = b * h * w * ch;
      const forwardCpu = (x: ArrayLike<number>) =>
        affineResampleCpu({ data: x, shape: [b, h, w, ch], transforms: rows, fillMode, fillValue: 0 });
      const columns = Array.from({ length: n }, (_, j) => {
        const e = new Float64Array(n);
        e[j] = 1;
        return forwardCpu(e);
      });
      await checkGrad({
        label: `affineResampleGrad ${fillMode}`,
        f: (dy) => affineResampleGrad(dy, t, [h, w], { fillMode, interpolation: 'bilinear' }),
        // Transpose: input pixel j receives sum_i A[i][j] dy[i], A[:, j] = forward(e_j).
        oracle: ([dy]) => columns.map((col) => col.reduce((acc, a, i) => acc + a * dy[i], 0)),
        inputs: [{ shape: [b, h, w, ch], data: randArray(n, r) }],
      });
      t.dispose();
    });
});
