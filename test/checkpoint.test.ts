import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Adam,
  type Callback,
  Dense,
  Flatten,
  type LogSink,
  loadCheckpoint,
  modelCheckpoint,
  Sequential,
  setSeed,
  tensor,
} from '../src/node.js';
import { randArray, rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet: LogSink = { isTTY: false, write: () => {} };

function build(): Sequential {
  setSeed(42);
  const m = new Sequential([
    // Weights are matched by name (layer/weight), so the layers are named as in a real script.
    new Flatten({ inputShape: [2, 3], name: 'flat' }),
    new Dense({ units: 8, activation: 'relu', name: 'hidden' }),
    new Dense({ units: 3, activation: 'softmax', name: 'out' }),
  ]);
  m.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  return m;
}

describe('determinism', () => {
  it('the same seed gives bit-identical training losses run to run', async () => {
    const x = tensor(randArray(32 * 6, rng(8)), [32, 2, 3]);
    const y = tensor(
      Int32Array.from({ length: 32 }, (_, i) => i % 3),
      [32],
      'int32',
    );
    const runs: number[][] = [];
    for (let k = 0; k < 2; k++) {
      const m = build();
      const h = await m.fit(x, y, { epochs: 3, batchSize: 8, seed: 1, logSink: quiet });
      runs.push(h.history.loss);
      m.dispose();
    }
    expect(runs[1]).toEqual(runs[0]);
    x.dispose();
    y.dispose();
  });
});

describe('checkpoints', () => {
  it('resuming from the epoch-2 checkpoint gives the same losses as an uninterrupted run', async () => {
    const n = 48;
    const x = tensor(randArray(n * 6, rng(3)), [n, 2, 3]);
    const y = tensor(
      Int32Array.from({ length: n }, (_, i) => i % 3),
      [n],
      'int32',
    );
    const straight = build();
    const h1 = await straight.fit(x, y, { epochs: 4, batchSize: 8, seed: 9, logSink: quiet });

    const first = build();
    const path = join(dir, 'ckpt-{epoch}.safetensors');
    await first.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      seed: 9,
      logSink: quiet,
      callbacks: [modelCheckpoint(first, path)],
    });
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.safetensors'))
        .sort(),
    ).toEqual(['ckpt-1.safetensors', 'ckpt-2.safetensors']);

    const resumed = build();
    const epoch = await loadCheckpoint(resumed, join(dir, 'ckpt-2.safetensors'));
    expect(epoch).toBe(2);
    expect(resumed.optimizer!.iterations).toBe(12);
    const losses: number[] = [];
    const rec: Callback = { onEpochEnd: (_e, logs) => void losses.push(logs.loss) };
    await resumed.fit(x, y, {
      epochs: 4,
      initialEpoch: epoch,
      batchSize: 8,
      seed: 9,
      logSink: quiet,
      callbacks: [rec],
    });
    expect(losses).toEqual(h1.history.loss.slice(2));
    for (const m of [straight, first, resumed]) m.dispose();
    x.dispose();
    y.dispose();
  });

  it('an interrupted save leaves the previous checkpoint loadable, and bad files are refused', async () => {
    const m = build();
    const x = tensor(randArray(8 * 6, rng(4)), [8, 2, 3]);
    const y = tensor(
      Int32Array.from({ length: 8 }, (_, i) => i % 3),
      [8],
      'int32',
    );
    const path = join(dir, 'keep.safetensors');
    await m.fit(x, y, { epochs: 1, batchSize: 4, logSink: quiet, callbacks: [modelCheckpoint(m, path)] });
    // A crash mid-write leaves at most a temp file beside it; the checkpoint itself is untouched.
    writeFileSync(join(dir, '.keep.safetensors.123.abc.tmp'), new Uint8Array(10));
    const again = build();
    await expect(loadCheckpoint(again, path)).resolves.toBe(1);
    writeFileSync(join(dir, 'plain.safetensors'), new Uint8Array(8));
    await expect(loadCheckpoint(again, join(dir, 'plain.safetensors'))).rejects.toThrow(/safetensors/);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    again.dispose();
  });
});
