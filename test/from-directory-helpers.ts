import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { afterAll, beforeAll } from 'vitest';
import { decodeAndResize, decodeImage } from '../src/data/decode.js';
import { type ImageDatasetOptions, imageDatasetFromDirectory } from '../src/data/from-directory.js';
import { closeDefaultDecodePool, DecodePool } from '../src/data/worker-pool.js';
import { rng } from './helpers.js';

/*
 * The fixture tree shared by test/from-directory-fixtures.test.ts, test/decode-pool.test.ts and
 * test/from-directory-flowers.test.ts: a small class tree with good images of several kinds and
 * hostile files, plus a 2-worker DecodePool. A test file calls useFixtureTree() once at top level;
 * root, emptyRoot and pool are live bindings, set before its first test.
 */

export let root = '';
export let emptyRoot = '';
export let pool: DecodePool;
export const SIZE: [number, number] = [12, 10];

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

export const GOOD = [
  'cats/a.jpg',
  'cats/b.png',
  'cats/c.JPG',
  'cats/nested/d.jpeg',
  'cats/nested-b/i.jpg',
  'cats/nested/deeper/h.png',
  'dogs/e.png',
  'dogs/f.jpg',
];
export const BAD = [
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
export const LISTED = [
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

/** Writes the fixture tree and starts the pool before the calling file's tests; removes both after. */
export function useFixtureTree(): void {
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
}

interface Collected {
  xs: number[][];
  ys: number[][];
  shapes: string[];
  warnings: string[];
}

export async function collect(
  opts: ImageDatasetOptions,
  dir = root,
): Promise<Collected & { files: string[] }> {
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

export async function expected(rel: string, opts = {}): Promise<number[]> {
  const bytes = await readFile(join(root, rel));
  return Array.from(decodeAndResize(bytes, { size: SIZE, ...opts }).pixels);
}
