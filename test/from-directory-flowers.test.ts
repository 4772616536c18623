import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ImageBatch, imageDatasetFromDirectory } from '../src/data/from-directory.js';
import { memory } from '../src/index.js';
import { pool, useFixtureTree } from './from-directory-helpers.js';

/* imageDatasetFromDirectory on the real flower_photos folder (skipped when absent). */

useFixtureTree();

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
function flowersDir(): string | null {
  const env = process.env.WGSL_NN_DATA_DIR;
  const candidates = env
    ? [join(env, 'flower_photos'), env]
    : [resolve(repoRoot, '../shared/data/flower_photos')];
  return candidates.find((d) => existsSync(join(d, 'daisy'))) ?? null;
}
const FLOWERS = flowersDir();
if (!FLOWERS) {
  console.log(
    'from-directory: flower_photos not found (looked in ../shared/data/flower_photos from the repo root, or ' +
      '$WGSL_NN_DATA_DIR[/flower_photos]); skipping the flowers tests',
  );
}

/** Keras reference values: a Python replica of Keras' index_directory + split run with NumPy. */
const KERAS_SPLITS = {
  0.19: {
    train: 2640,
    val: 619,
    valHead: [
      'dandelion/4714026966_93846ddb74_m.jpg',
      'dandelion/145173479_7d04346c20.jpg',
      'sunflowers/15191613243_82ee8e0fe8.jpg',
    ],
    trainLast: 'daisy/14421389519_d5fd353eb4.jpg',
    valCounts: [114, 146, 106, 121, 132],
  },
  0.2: {
    train: 2608,
    val: 651,
    valHead: [
      'dandelion/2457473644_5242844e52_m.jpg',
      'tulips/6187740107_9813ccc41e.jpg',
      'sunflowers/14646279002_9cdf97be97_n.jpg',
    ],
    trainLast: 'tulips/4604238410_bcec9da4a0_n.jpg',
    valCounts: [118, 155, 111, 127, 140],
  },
} as const;

describe.skipIf(!FLOWERS)('flower_photos', () => {
  const dir = FLOWERS ?? '';

  it('finds 5 classes and 3259 files, and splits 81/19 with seed 123 deterministically (as Keras)', async () => {
    for (const [fraction, want] of Object.entries(KERAS_SPLITS)) {
      const opts = {
        validationSplit: Number(fraction),
        seed: 123,
        imageSize: [192, 192] as [number, number],
        verbose: false,
      };
      const [tr, va] = await imageDatasetFromDirectory(dir, { ...opts, subset: 'both' });
      expect(tr.classNames).toEqual(['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']);
      expect([tr.filePaths.length, va.filePaths.length]).toEqual([want.train, want.val]);
      const all = new Set([...tr.filePaths, ...va.filePaths]);
      expect(all.size).toBe(3259);
      expect(va.filePaths.some((f) => tr.filePaths.includes(f))).toBe(false);
      const counts = [0, 0, 0, 0, 0];
      for (const l of tr.labels!) counts[l]++;
      for (const l of va.labels!) counts[l]++;
      expect(counts).toEqual([567, 805, 561, 624, 702]);
      const vc = [0, 0, 0, 0, 0];
      for (const l of va.labels!) vc[l]++;
      expect(vc).toEqual([...want.valCounts]);
      expect(va.filePaths.slice(0, 3).map((f) => relative(dir, f))).toEqual([...want.valHead]);
      expect(relative(dir, tr.filePaths[tr.filePaths.length - 1])).toBe(want.trainLast);
      const again = await imageDatasetFromDirectory(dir, { ...opts, subset: 'training' });
      expect(again.filePaths).toEqual(tr.filePaths);
    }
  });

  it('decodes batches of 192x192 images and measures throughput with and without workers', async () => {
    const before = memory().numTensors;
    const opts = {
      imageSize: [192, 192] as [number, number],
      batchSize: 32,
      seed: 1,
      verbose: false,
      prefetch: 2,
    };
    const rate: Record<string, number> = {};
    for (const [name, workers] of [
      ['calling thread', 0],
      [`${pool.size} workers`, pool],
    ] as const) {
      const ds = await imageDatasetFromDirectory(dir, { ...opts, workers });
      // Warm up (worker start-up, JIT) on one batch, then time three.
      let batch: ImageBatch | undefined;
      let n = 0;
      let t = 0;
      let i = 0;
      for await (batch of ds.take(4)) {
        if (i++ === 1) t = performance.now();
        if (i > 1) n += batch.xs.shape[0];
        expect(batch.xs.shape).toEqual([32, 192, 192, 3]);
        const x = await batch.ys.data();
        expect(x.every((v) => v >= 0 && v < 5)).toBe(true);
        batch.xs.dispose();
        batch.ys.dispose();
      }
      rate[name] = (n / (performance.now() - t)) * 1000;
    }
    console.log(
      `from-directory: flowers decode+resize to 192x192 (batches of 32, incl. upload): ${Object.entries(rate)
        .map(([k, v]) => `${k} ${v.toFixed(0)} images/s`)
        .join(', ')}`,
    );
    expect(memory().numTensors).toBe(before);
  });
});
