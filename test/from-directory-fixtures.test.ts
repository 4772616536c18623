import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageDecodeError } from '../src/data/errors.js';
import { type ImageDatasetOptions, imageDatasetFromDirectory } from '../src/data/from-directory.js';
import { NumpyRandomState } from '../src/data/numpy-random.js';
import { closeDefaultDecodePool } from '../src/data/worker-pool.js';
import { ArgumentError, memory } from '../src/index.js';
import {
  BAD,
  collect,
  emptyRoot,
  expected,
  GOOD,
  LISTED,
  pool,
  root,
  SIZE,
  useFixtureTree,
} from './from-directory-helpers.js';
import { expectClose } from './helpers.js';

/* imageDatasetFromDirectory on the fixture tree of test/from-directory-helpers.ts. */

useFixtureTree();

describe('imageDatasetFromDirectory on a fixture tree (good, nested and hostile files)', () => {
  it('lists, labels, decodes and batches like Keras; bad files are skipped with one warning each', async () => {
    const before = memory().numTensors;
    const ds = await imageDatasetFromDirectory(root, {
      imageSize: SIZE,
      batchSize: 4,
      shuffle: false,
      verbose: false,
      workers: pool,
      onWarning: () => {},
    });
    expect(ds.classNames).toEqual(['birds', 'cats', 'dogs']);
    expect(ds.filePaths.map((f) => relative(root, f))).toEqual(LISTED);
    expect(Array.from(ds.labels!)).toEqual(LISTED.map((f) => (f.startsWith('cats') ? 1 : 2)));
    const got = await collect({ batchSize: 4, shuffle: false });
    expect(got.shapes).toEqual(['4,12,10,3|4|int32', '4,12,10,3|4|int32']);
    const good = LISTED.filter((f) => GOOD.includes(f));
    for (let i = 0; i < good.length; i++)
      expectClose(got.xs[i], await expected(good[i]), { atol: 0 }, good[i]);
    expect(got.ys.flat()).toEqual(good.map((f) => (f.startsWith('cats') ? 1 : 2)));
    expect(got.warnings).toHaveLength(BAD.length);
    for (const bad of BAD) expect(got.warnings.filter((w) => w.includes(join(root, bad)))).toHaveLength(1);
    expect(got.warnings.join('\n')).toMatch(/zero\.jpg': the file is empty/);
    expect(got.warnings.join('\n')).toMatch(/huge\.png': the header claims 100000x100000/);
    expect(got.warnings.join('\n')).toMatch(/g\.gif': unsupported image format GIF/);
    expect(got.warnings.join('\n')).toMatch(/badcrc\.png': corrupt PNG: bad CRC/);
    expect(memory().numTensors).toBe(before);
  });

  it('warns once per bad file across epochs, and decodes the same on the calling thread', async () => {
    const warnings: string[] = [];
    const ds = await imageDatasetFromDirectory(root, {
      imageSize: SIZE,
      batchSize: 3,
      shuffle: false,
      verbose: false,
      workers: 0,
      onWarning: (m) => warnings.push(m),
    });
    const pooled = await collect({ batchSize: 3, shuffle: false });
    for (let epoch = 0; epoch < 2; epoch++) {
      let i = 0;
      for await (const b of ds) {
        const x = await b.xs.data();
        const per = SIZE[0] * SIZE[1] * 3;
        for (let k = 0; k < b.xs.shape[0]; k++)
          expect(Array.from(x.subarray(k * per, (k + 1) * per))).toEqual(pooled.xs[i++]);
        b.xs.dispose();
        b.ys.dispose();
      }
      expect(i).toBe(GOOD.length);
    }
    expect(warnings).toHaveLength(BAD.length);
  });

  it("fails on the first bad file with onBadFile: 'error'", async () => {
    const ds = await imageDatasetFromDirectory(root, {
      imageSize: SIZE,
      shuffle: false,
      verbose: false,
      workers: pool,
      onBadFile: 'error',
    });
    const err = await ds.toArray().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).path).toBe(join(root, 'cats/zero.jpg'));
  });

  it('label modes: categorical, binary, none (all images under the root), unbatched', async () => {
    const cat = await collect({ labelMode: 'categorical', shuffle: false, batchSize: 32 });
    expect(cat.shapes).toEqual(['8,12,10,3|8,3|float32']);
    expect(cat.ys).toEqual([...Array(6).fill([0, 1, 0]), ...Array(2).fill([0, 0, 1])]);
    const bin = await collect({ labelMode: 'binary', classNames: ['cats', 'dogs'], shuffle: false });
    expect(bin.shapes).toEqual(['8,12,10,3|8,1|float32']);
    expect(bin.ys.flat()).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
    const ds = await imageDatasetFromDirectory(root, {
      labelMode: null,
      imageSize: SIZE,
      shuffle: false,
      verbose: false,
      workers: pool,
      onWarning: () => {},
    });
    expect(ds.classNames).toBe(null);
    expect(ds.labels).toBe(null);
    const rel = ds.filePaths.map((f) => relative(root, f));
    expect(rel).toEqual(['top.jpg', '.hidden/x.jpg', ...LISTED]);
    let n = 0;
    for await (const b of ds) {
      expect(Object.keys(b)).toEqual(['xs']);
      n += b.xs.shape[0];
      b.xs.dispose();
    }
    expect(n).toBe(GOOD.length + 2);
    const single = await collect({ batchSize: null, shuffle: false });
    expect(single.shapes).toEqual(Array(8).fill('12,10,3||int32'));
  });

  it('honours classNames (order and subset) and the crop / pad options', async () => {
    const got = await collect({ classNames: ['dogs', 'cats'], shuffle: false });
    expect(got.ys.flat()).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    expect(got.files.slice(0, 2)).toEqual(['dogs/badcrc.png', 'dogs/corrupt.jpg']);
    for (const opts of [
      { cropToAspectRatio: true },
      { padToAspectRatio: true },
      { interpolation: 'nearest' as const },
      { interpolation: 'area' as const, cropToAspectRatio: true },
      { applyExifOrientation: true, interpolation: 'bicubic' as const },
    ]) {
      const r = await collect({ ...opts, classNames: ['cats'], shuffle: false });
      expect(r.xs[0]).toEqual(await expected('cats/a.jpg', opts));
      expect(r.xs[2]).toEqual(await expected('cats/c.JPG', opts));
    }
  });

  it('shuffles and splits files exactly as Keras (NumPy MT19937, last floor(split * n) for validation)', async () => {
    const opts = { validationSplit: 0.3, seed: 7, batchSize: 2 } as const;
    const [tr, va] = await imageDatasetFromDirectory(root, {
      ...opts,
      subset: 'both',
      imageSize: SIZE,
      verbose: false,
      workers: pool,
      onWarning: () => {},
    });
    const perm = new NumpyRandomState(7).shuffle(LISTED.map((_, i) => i));
    const shuffled = perm.map((i) => join(root, LISTED[i]));
    // floor(0.3 * 15) = 4 validation files.
    expect(va.filePaths).toEqual(shuffled.slice(15 - 4));
    expect(tr.filePaths).toEqual(shuffled.slice(0, 11));
    expect(Array.from(va.labels!)).toEqual(va.filePaths.map((f) => (f.includes('/cats/') ? 1 : 2)));
    const again = await imageDatasetFromDirectory(root, {
      ...opts,
      subset: 'validation',
      imageSize: SIZE,
      verbose: false,
      workers: pool,
    });
    expect(again.filePaths).toEqual(va.filePaths);
    // Each epoch visits every good training file once, in a new order (tf.data-style reshuffle).
    const goodTrain = tr.filePaths.filter((f) => GOOD.includes(relative(root, f))).length;
    for (let epoch = 0; epoch < 2; epoch++) {
      let seen = 0;
      for await (const b of tr) {
        seen += b.xs.shape[0];
        b.xs.dispose();
        b.ys.dispose();
      }
      expect(seen).toBe(goodTrain);
    }
    const noShuffle = await imageDatasetFromDirectory(root, {
      validationSplit: 0.3,
      subset: 'training',
      shuffle: false,
      verbose: false,
    });
    expect(noShuffle.filePaths.map((f) => relative(root, f))).toEqual(LISTED.slice(0, 11));
  });

  it('skips images over maxPixels, and uses the default pool even after it was closed', async () => {
    const small = await collect({ maxPixels: 500, shuffle: false, classNames: ['cats'] });
    // a.jpg is 30x20 and d.jpeg 25x25: over 500 pixels; the other 4 cats fit.
    expect(small.xs).toHaveLength(4);
    expect(small.warnings.filter((w) => /over maxPixels = 500/.test(w))).toHaveLength(2);
    const ds = await imageDatasetFromDirectory(root, {
      imageSize: SIZE,
      classNames: ['dogs'],
      seed: 3,
      verbose: false,
      onWarning: () => {},
    });
    for (let epoch = 0; epoch < 2; epoch++) {
      let n = 0;
      for await (const b of ds) {
        n += b.xs.shape[0];
        b.xs.dispose();
        b.ys.dispose();
      }
      expect(n).toBe(2);
      await closeDefaultDecodePool();
    }
  });

  it('disposes prefetched batches when the consumer stops early (no leaked tensors)', async () => {
    const before = memory().numTensors;
    const ds = await imageDatasetFromDirectory(root, {
      imageSize: SIZE,
      batchSize: 1,
      prefetch: 3,
      shuffle: false,
      verbose: false,
      workers: pool,
      onWarning: () => {},
    });
    for await (const b of ds) {
      b.xs.dispose();
      b.ys.dispose();
      break;
    }
    expect(memory().numTensors).toBe(before);
  });

  it('rejects bad options with ArgumentError naming the option', async () => {
    const bad = async (opts: ImageDatasetOptions, re: RegExp, dir = root) => {
      const e = await imageDatasetFromDirectory(dir, { verbose: false, ...opts }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e, re.source).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toMatch(re);
    };
    await bad({ validationSplit: 0.2, subset: 'training' }, /a seed is required/);
    await bad({ validationSplit: 0.2 }, /subset and validationSplit must be given together/);
    await bad({ subset: 'training', seed: 1 }, /subset and validationSplit must be given together/);
    await bad(
      { validationSplit: 1, subset: 'training', seed: 1 },
      /validationSplit must be between 0 and 1 \(exclusive\), got 1/,
    );
    await bad(
      { validationSplit: 0.2, subset: 'test' as never, seed: 1 },
      /subset must be 'training', 'validation' or 'both', got "test"/,
    );
    await bad(
      { validationSplit: 0.05, subset: 'training', seed: 1 },
      /validationSplit 0.05 of 15 files leaves no validation files/,
    );
    await bad({ imageSize: [0, 5] as never }, /imageSize must be \[height, width\]/);
    await bad({ batchSize: 0 }, /batchSize must be a positive integer or null, got 0/);
    await bad(
      { labelMode: 'sparse' as never },
      /labelMode must be 'int', 'categorical', 'binary' or null, got "sparse"/,
    );
    await bad(
      { labelMode: 'binary' },
      /labelMode 'binary' needs exactly 2 classes, got \["birds","cats","dogs"\]/,
    );
    await bad({ classNames: ['cats', 'cows'] }, /classNames must be distinct sub-folders/);
    await bad({ classNames: ['cats'], labelMode: null }, /classNames cannot be given with labelMode null/);
    await bad({ seed: -1 }, /seed must be an integer in \[0, 2\*\*32 - 1\], got -1/);
    await bad(
      { cropToAspectRatio: true, padToAspectRatio: true },
      /only one of cropToAspectRatio and padToAspectRatio/,
    );
    await bad({ onBadFile: 'ignore' as never }, /onBadFile must be 'warn' or 'error'/);
    await bad({ workers: 4 as never }, /workers must be a DecodePool or 0, got 4/);
    await bad({ prefetch: -1 }, /prefetch must be an integer >= 0, got -1/);
    await bad({ maxPixels: 0 }, /maxPixels must be a positive number, got 0/);
    await bad({}, /directory '.*nope' does not exist/, join(root, 'nope'));
    await bad({}, /no images found in '.*wgsl-nn-no-images-/, emptyRoot);
  });
});
