import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  Dense,
  memory,
  Sequential,
  sparseSoftmaxCrossEntropy,
  sync,
  tensor,
} from '../src/index.js';
import { expectClose, randArray, randInts, rng } from './helpers.js';

/** CPU oracle: logsumexp(logits[r]) - logits[r, label[r]], in float64. */
function oracle(labels: Int32Array, logits: Float32Array, c: number): Float64Array {
  const out = new Float64Array(labels.length);
  for (let r = 0; r < labels.length; r++) {
    const row = Array.from(logits.subarray(r * c, (r + 1) * c));
    const m = Math.max(...row);
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) + m;
    out[r] = lse - row[labels[r]];
  }
  return out;
}

/** Counts buffer maps (readbacks) while `fn` runs. */
async function countMaps(fn: () => Promise<void>): Promise<number> {
  const proto = (globalThis as unknown as { GPUBuffer: { prototype: GPUBuffer } }).GPUBuffer.prototype;
  const original = proto.mapAsync;
  let n = 0;
  proto.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
    n++;
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.mapAsync = original;
  }
  return n;
}

describe('sparseSoftmaxCrossEntropy', () => {
  it('matches the CPU oracle on random rows and class counts', async () => {
    const r = rng(4);
    for (const [rows, c] of [
      [1, 1],
      [7, 3],
      [130, 10],
      [64, 1000],
    ]) {
      const logits = randArray(rows * c, r, -8, 8);
      const labels = randInts(rows, r, 0, c);
      const [l, x] = [tensor(labels, [rows], 'int32'), tensor(logits, [rows, c])];
      const loss = sparseSoftmaxCrossEntropy(l, x);
      expectClose(await loss.data(), oracle(labels, logits, c), { atol: 1e-5, rtol: 1e-5 }, `${rows}x${c}`);
      for (const t of [l, x, loss]) t.dispose();
    }
  });

  // Issue 15, bug 3: labels outside [0, classes) gave `loss: NaN` and no error.
  it('a label outside [0, classes) throws at the next read, naming the label and the class count', async () => {
    const before = memory().numTensors;
    const logits = tensor(randArray(4 * 5, rng(1)), [4, 5]);
    for (const [bad, row] of [
      [7, 2],
      [-1, 0],
      [5, 3],
    ]) {
      const values = Int32Array.of(0, 1, 2, 3);
      values[row] = bad;
      const labels = tensor(values, [4], 'int32');
      const loss = sparseSoftmaxCrossEntropy(labels, logits); // no throw, no readback here
      const err = (await loss.data().catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(ArgumentError);
      expect(err.message).toContain(`label ${bad} is out of range for 5 classes`);
      expect(err.message).toContain('[0, 5)');
      expect(err.message).toContain(`row ${row}`);
      // Reported once: the next read is clean.
      expect((await loss.data())[row]).toBeNaN();
      labels.dispose();
      loss.dispose();
    }
    // Several bad batches before one read: the first is named and the rest counted; sync() reports too.
    const two = tensor(Int32Array.of(9, 9, 0, 0), [4], 'int32');
    const losses = [sparseSoftmaxCrossEntropy(two, logits), sparseSoftmaxCrossEntropy(two, logits)];
    await expect(sync()).rejects.toThrow(
      /label 9 is out of range for 5 classes.*4 out-of-range labels in all/,
    );
    await sync();
    for (const t of [logits, two, ...losses]) t.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('checks on the GPU: good labels cost no readback beyond the one the caller makes', async () => {
    const logits = tensor(randArray(8 * 3, rng(2)), [8, 3]);
    const labels = tensor(randInts(8, rng(3), 0, 3), [8], 'int32');
    const maps = await countMaps(async () => {
      const losses = Array.from({ length: 20 }, () => sparseSoftmaxCrossEntropy(labels, logits));
      await losses[19].data();
      for (const t of losses) t.dispose();
    });
    expect(maps).toBe(1);
    for (const t of [logits, labels]) t.dispose();
  });

  it('fit stops with the typed error instead of training on NaN', async () => {
    const m = new Sequential([new Dense({ units: 3, activation: 'softmax', inputShape: [2] })]);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const x = tensor(randArray(16, rng(5)), [8, 2]);
    const y = tensor(Int32Array.of(0, 1, 2, 0, 1, 2, 3, 0), [8], 'int32');
    await expect(m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 })).rejects.toThrow(
      /label 3 is out of range for 3 classes/,
    );
    for (const t of [x, y]) t.dispose();
    m.dispose();
  });
});
