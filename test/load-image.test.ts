import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAndResize } from '../src/data/decode.js';
import { ImageDecodeError, loadImage, memory, resizeBilinearCpu } from '../src/index.js';
import { expectClose, rng } from './helpers.js';
import { flowersDir, hasFlowers } from './shared-data.js';

/*
 * Issue 15, bug 11: predicting on one image file took readFileSync -> decodeAndResize -> tensor by
 * hand. loadImage(pathOrUrlOrBytes, { size }) returns the batched float tensor.
 */

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-load-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A random RGB image as a PNG (lossless, so the decoded pixels are known exactly). */
function randomPng(h: number, w: number, seed: number): { bytes: Uint8Array; rgb: Uint8Array } {
  const r = rng(seed);
  const png = new PNG({ width: w, height: h });
  const rgb = new Uint8Array(h * w * 3);
  for (let i = 0; i < h * w; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.floor(r() * 256);
      rgb[i * 3 + c] = v;
      png.data[i * 4 + c] = v;
    }
    png.data[i * 4 + 3] = 255;
  }
  return { bytes: new Uint8Array(PNG.sync.write(png)), rgb };
}

describe('loadImage', () => {
  it('reads a path, a file: URL, a data: URL and bytes into float32 [1, h, w, 3]', async () => {
    const before = memory().numTensors;
    const { bytes, rgb } = randomPng(7, 11, 1);
    const path = join(dir, 'img.png');
    writeFileSync(path, bytes);
    const size: [number, number] = [5, 4];
    const want = resizeBilinearCpu({ width: 11, height: 7, channels: 3, data: rgb }, size);
    const dataUrl = `data:image/png;base64,${Buffer.from(bytes).toString('base64')}`;
    for (const src of [
      path,
      pathToFileURL(path),
      pathToFileURL(path).href,
      dataUrl,
      bytes,
      bytes.slice().buffer,
    ]) {
      const x = await loadImage(src, { size });
      expect(x.shape).toEqual([1, 5, 4, 3]);
      expect(x.dtype).toBe('float32');
      expectClose(await x.data(), want, { atol: 1e-4, rtol: 0 }, String(src).slice(0, 40));
      x.dispose();
    }
    // Without a size: the image as it is.
    const full = await loadImage(path);
    expect(full.shape).toEqual([1, 7, 11, 3]);
    expect(Array.from(await full.data())).toEqual(Array.from(rgb));
    full.dispose();
    // Crop and pad to keep the aspect ratio, as decodeAndResize does.
    for (const opt of [{ cropToAspectRatio: true }, { padToAspectRatio: true }]) {
      const x = await loadImage(path, { size: [4, 4], ...opt });
      expect(Array.from(await x.data())).toEqual(
        Array.from(decodeAndResize(bytes, { size: [4, 4], ...opt }).pixels),
      );
      x.dispose();
    }
    expect(memory().numTensors).toBe(before);
  });

  it('names the source in decode errors and leaks nothing', async () => {
    const before = memory().numTensors;
    const bad = join(dir, 'notes.jpg');
    writeFileSync(bad, 'not an image');
    const err = await loadImage(bad, { size: [2, 2] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as Error).message).toContain(bad);
    const { bytes } = randomPng(40, 40, 2);
    await expect(loadImage(bytes, { maxPixels: 1000 })).rejects.toThrow(/40x40/);
    expect(memory().numTensors).toBe(before);
  });

  it.skipIf(!hasFlowers)('loads a flower photo as imageDatasetFromDirectory decodes it', async () => {
    const daisy = join(flowersDir, 'daisy');
    const file = join(daisy, readdirSync(daisy).filter((f) => f.endsWith('.jpg'))[0]);
    const x = await loadImage(file, { size: [224, 224] });
    const want = decodeAndResize(new Uint8Array(readFileSync(file)), { size: [224, 224] }).pixels;
    expect(x.shape).toEqual([1, 224, 224, 3]);
    expect(Array.from(await x.data())).toEqual(Array.from(want));
    x.dispose();
  });
});
