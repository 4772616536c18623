import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAndResize, decodeImage } from '../src/data/decode.js';
import { runDecodeJob } from '../src/data/decode-worker.js';
import { ImageDecodeError } from '../src/data/errors.js';
import {
  type ImageBatch,
  type ImageDatasetOptions,
  imageDatasetFromDirectory,
} from '../src/data/from-directory.js';
import { NumpyRandomState } from '../src/data/numpy-random.js';
import { PixelArena } from '../src/data/pixel-arena.js';
import { closeDefaultDecodePool, DecodePool } from '../src/data/worker-pool.js';
import { ArgumentError, memory, WgslNnError } from '../src/index.js';
import { expectClose, rng } from './helpers.js';

// ---- Fixtures: a small class tree with good images of several kinds and hostile files. ----

let root = '';
let emptyRoot = '';
let pool: DecodePool;
const SIZE: [number, number] = [12, 10];

function jpegBytes(w: number, h: number, seed: number): Buffer {
  const r = rng(seed);
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : Math.floor(r() * 64 + ((i * 7) % 190));
  return jpeg.encode({ data, width: w, height: h }, 90).data;
}
function pngBytes(w: number, h: number, seed: number, alpha = false): Buffer {
  const r = rng(seed);
  const png = new pngjs.PNG({ width: w, height: h });
  for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 && !alpha ? 255 : Math.floor(r() * 256);
  return pngjs.PNG.sync.write(png, { colorType: alpha ? 6 : 2 });
}
/** A JPEG whose entropy-coded data is corrupt enough that the decoder rejects it. */
function corruptJpeg(): Buffer {
  const good = jpegBytes(32, 32, 99);
  for (let s = 0; s < 50; s++) {
    const c = Buffer.from(good);
    for (let k = 0; k < 20; k++) c[Math.floor(good.length * 0.6) + k * 3 + s] ^= 0x5a;
    try {
      decodeImage(c);
    } catch {
      return c;
    }
  }
  throw new Error('could not make a corrupt JPEG');
}

const GOOD = [
  'cats/a.jpg',
  'cats/b.png',
  'cats/c.JPG',
  'cats/nested/d.jpeg',
  'cats/nested-b/i.jpg',
  'cats/nested/deeper/h.png',
  'dogs/e.png',
  'dogs/f.jpg',
];
const BAD = [
  'cats/zero.jpg',
  'dogs/badcrc.png',
  'dogs/corrupt.jpg',
  'dogs/g.gif',
  'dogs/huge.png',
  'dogs/text.png',
  'dogs/trunc.jpg',
];
/**
 * Keras' listing order: class folders sorted, each walked with roots sorted by path ('nested-b'
 * before 'nested/deeper', since '-' < '/') and files sorted; the fixture writes them out of order.
 */
const LISTED = [
  'cats/a.jpg',
  'cats/b.png',
  'cats/c.JPG',
  'cats/zero.jpg',
  'cats/nested/d.jpeg',
  'cats/nested-b/i.jpg',
  'cats/nested/deeper/h.png',
  'dogs/badcrc.png',
  'dogs/corrupt.jpg',
  'dogs/e.png',
  'dogs/f.jpg',
  'dogs/g.gif',
  'dogs/huge.png',
  'dogs/text.png',
  'dogs/trunc.jpg',
];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'wgsl-nn-images-'));
  const put = (rel: string, bytes: Uint8Array | string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), bytes);
  };
  put('cats/zero.jpg', new Uint8Array(0));
  put('cats/nested/deeper/h.png', pngBytes(8, 8, 12));
  put('cats/c.JPG', jpegBytes(10, 40, 3));
  put('cats/nested-b/i.jpg', jpegBytes(12, 12, 13));
  put('cats/a.jpg', jpegBytes(30, 20, 1));
  put('cats/nested/d.jpeg', jpegBytes(25, 25, 4));
  put('cats/b.png', pngBytes(16, 16, 2));
  put('cats/readme.txt', 'not listed: not an image extension');
  put('dogs/e.png', pngBytes(12, 8, 5, true));
  put('dogs/f.jpg', jpegBytes(7, 9, 6));
  put('dogs/g.gif', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'));
  put('dogs/text.png', 'hello, I am text pretending to be a PNG\n');
  const j = jpegBytes(20, 20, 7);
  put('dogs/trunc.jpg', j.subarray(0, Math.floor(j.length / 2)));
  const crc = Buffer.from(pngBytes(8, 8, 8));
  crc[crc.length - 13] ^= 0xff;
  put('dogs/badcrc.png', crc);
  const huge = Buffer.from(pngBytes(4, 4, 9));
  huge.writeUInt32BE(100_000, 16);
  huge.writeUInt32BE(100_000, 20);
  put('dogs/huge.png', huge);
  put('dogs/corrupt.jpg', corruptJpeg());
  mkdirSync(join(root, 'birds')); // an empty class is still a class, as in Keras
  put('.hidden/x.jpg', jpegBytes(5, 5, 10));
  put('top.jpg', jpegBytes(6, 6, 11));
  emptyRoot = mkdtempSync(join(tmpdir(), 'wgsl-nn-no-images-'));
  mkdirSync(join(emptyRoot, 'a'));
  writeFileSync(join(emptyRoot, 'a', 'notes.txt'), 'no images here');
  pool = new DecodePool({ size: 2 });
});

afterAll(async () => {
  await pool.close();
  await closeDefaultDecodePool();
  rmSync(root, { recursive: true, force: true });
  rmSync(emptyRoot, { recursive: true, force: true });
});

interface Collected {
  xs: number[][];
  ys: number[][];
  shapes: string[];
  warnings: string[];
}

async function collect(opts: ImageDatasetOptions, dir = root): Promise<Collected & { files: string[] }> {
  const warnings: string[] = [];
  const ds = await imageDatasetFromDirectory(dir, {
    imageSize: SIZE,
    verbose: false,
    workers: pool,
    onWarning: (m) => warnings.push(m),
    ...opts,
  });
  const out: Collected = { xs: [], ys: [], shapes: [], warnings };
  for await (const b of ds) {
    out.shapes.push(`${b.xs.shape}|${b.ys.shape}|${b.ys.dtype}`);
    const x = await b.xs.data();
    const per = SIZE[0] * SIZE[1] * 3;
    for (let i = 0; i < x.length / per; i++) out.xs.push(Array.from(x.subarray(i * per, (i + 1) * per)));
    const y = Array.from(await b.ys.data());
    const cols = b.ys.rank === 2 ? b.ys.shape[1] : 1;
    for (let i = 0; i < y.length / cols; i++) out.ys.push(y.slice(i * cols, (i + 1) * cols));
    b.xs.dispose();
    b.ys.dispose();
  }
  return { ...out, files: ds.filePaths.map((f) => relative(dir, f)) };
}

async function expected(rel: string, opts = {}): Promise<number[]> {
  const bytes = await readFile(join(root, rel));
  return Array.from(decodeAndResize(bytes, { size: SIZE, ...opts }).pixels);
}

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

describe('DecodePool', () => {
  it('rejects undecodable files with ImageDecodeError and keeps working', async () => {
    const e = await pool
      .run({ path: join(root, 'dogs/text.png'), height: 4, width: 4 })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ImageDecodeError);
    expect((e as Error).message).toContain('text.png');
    const missing = await pool
      .run({ path: join(root, 'missing.jpg'), height: 4, width: 4 })
      .catch((x: unknown) => x);
    expect((missing as ImageDecodeError).reason).toMatch(/cannot read the file \(ENOENT/);
    const ok = await pool.run({ path: join(root, 'cats/a.jpg'), height: SIZE[0], width: SIZE[1] });
    expect(Array.from(ok.pixels)).toEqual(await expected('cats/a.jpg'));
    expect([ok.srcWidth, ok.srcHeight]).toEqual([30, 20]);
  });

  it('writes into shared memory when given `into` (same pixels, no buffer sent back), and checks it', async () => {
    const job = { path: join(root, 'cats/a.jpg'), height: SIZE[0], width: SIZE[1] };
    const n = SIZE[0] * SIZE[1] * 3;
    const into = new Float32Array(new SharedArrayBuffer(n * 4)).fill(-1);
    const r = await pool.run(job, { into });
    expect(r.pixels).toBe(into);
    expect(Array.from(into)).toEqual(await expected('cats/a.jpg'));
    expect([r.srcWidth, r.srcHeight]).toEqual([30, 20]);
    // A view at an offset of a larger shared buffer works too.
    const big = new SharedArrayBuffer((n + 8) * 4);
    const view = new Float32Array(big, 32, n);
    await pool.run(job, { into: view });
    expect(Array.from(view)).toEqual(Array.from(into));
    // The calling-thread path takes the same block.
    const local = new Float32Array(new SharedArrayBuffer(n * 4));
    await runDecodeJob(job, local);
    expect(Array.from(local)).toEqual(Array.from(into));
    await expect(pool.run(job, { into: new Float32Array(n) })).rejects.toThrow(
      /DecodePool.run: into must be a Float32Array over a SharedArrayBuffer, got a Float32Array over an ArrayBuffer/,
    );
    await expect(pool.run(job, { into: new Uint8Array(new SharedArrayBuffer(n)) as never })).rejects.toThrow(
      /into must be a Float32Array over a SharedArrayBuffer, got Uint8Array/,
    );
    await expect(
      pool.run(job, { into: new Float32Array(new SharedArrayBuffer(4 * (n - 3))) }),
    ).rejects.toThrow(/DecodePool.run: into has 357 values, but a 12x10 RGB image needs 360/);
    await expect(pool.run(job, { int: into } as never)).rejects.toThrow(
      /DecodePool.run: unknown option 'int'/,
    );
    await expect(pool.run(job, null as never)).rejects.toThrow(
      /DecodePool.run: expected an options object, got null/,
    );
    expect(pool.pending).toBe(0);
  });

  it('PixelArena reuses the blocks given back and lets them go on clear()', () => {
    const a = new PixelArena(6);
    const b1 = a.take();
    expect(b1.length).toBe(6);
    expect(b1.buffer).toBeInstanceOf(SharedArrayBuffer);
    const b2 = a.take();
    expect(b2.buffer).not.toBe(b1.buffer);
    a.give(b1);
    a.give(new Float32Array(6)); // not one of its blocks (not shared): ignored
    a.give(new Float32Array(new SharedArrayBuffer(20))); // wrong size: ignored
    expect(a.size).toBe(1);
    expect(a.take()).toBe(b1);
    a.give(b1);
    a.give(b2);
    a.clear();
    expect(a.size).toBe(0);
    expect(a.take()).not.toBe(b1);
  });

  it('stops a job that hangs (a FIFO nobody writes) after timeoutMs and replaces the worker', async (ctx) => {
    const fifo = join(root, 'hang.jpg');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      ctx.skip();
    }
    const p = new DecodePool({ size: 1, timeoutMs: 1500 });
    try {
      const t = performance.now();
      const e = await p.run({ path: fifo, height: 4, width: 4 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ImageDecodeError);
      expect((e as Error).message).toMatch(
        /hang\.jpg': decoding took longer than 1500 ms; the worker was stopped/,
      );
      expect(performance.now() - t).toBeGreaterThanOrEqual(1400);
      const ok = await p.run({ path: join(root, 'cats/b.png'), height: 3, width: 3 });
      expect(ok.pixels.length).toBe(27);
    } finally {
      await p.close();
      // Release the libuv thread still blocked opening the FIFO.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {}
      rmSync(fifo, { force: true });
    }
  });

  it('rejects pending and later jobs once closed, and validates its options', async () => {
    const p = new DecodePool({ size: 1 });
    const pending = p.run({ path: join(root, 'cats/a.jpg'), height: 4, width: 4 }).catch((x: unknown) => x);
    await p.close();
    expect(await pending).toBeInstanceOf(WgslNnError);
    await expect(p.run({ path: join(root, 'cats/a.jpg'), height: 4, width: 4 })).rejects.toThrow(
      /the pool was closed/,
    );
    expect(() => new DecodePool({ size: 0 })).toThrow(/DecodePool: size must be a positive integer, got 0/);
    expect(() => new DecodePool({ timeoutMs: -1 })).toThrow(/timeoutMs must be a positive number, got -1/);
  });
});

// ---- The real flower_photos folder (skipped when absent). ----

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
