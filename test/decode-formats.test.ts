import { describe, expect, it } from 'vitest';
import { decodeAndResize, decodeImage, readImageHeader, sniffFormat } from '../src/data/decode.js';
import { resizeBilinearCpu } from '../src/data/resize.js';
import { ArgumentError } from '../src/index.js';
import {
  expectDecodeError,
  expectedRgb,
  jpegOf,
  makePng,
  type PngSpec,
  randomSpec,
} from './decode-helpers.js';
import { rng } from './helpers.js';

/* Decoding PNG and JPEG, format detection and decodeAndResize; the safety limits: decode-safety.test.ts. */

describe('PNG decoding (every colour type and depth, against the TF semantics oracle)', () => {
  const cases: Array<[PngSpec['colorType'], PngSpec['depth']]> = [
    [0, 1],
    [0, 2],
    [0, 4],
    [0, 8],
    [0, 16],
    [2, 8],
    [2, 16],
    [3, 1],
    [3, 2],
    [3, 4],
    [3, 8],
    [4, 8],
    [4, 16],
    [6, 8],
    [6, 16],
  ];
  const r = rng(7);
  for (const [ct, depth] of cases) {
    it(`colour type ${ct}, ${depth}-bit, sizes 1x1 / 5x3 / 13x9, plain and interlaced`, () => {
      for (const [w, h] of [
        [1, 1],
        [5, 3],
        [13, 9],
      ]) {
        for (const interlace of [false, true]) {
          const spec = { ...randomSpec(r, ct, depth, w, h), interlace };
          const bytes = makePng(spec);
          const img = decodeImage(bytes, { path: 'x.png' });
          expect([img.width, img.height, img.channels]).toEqual([w, h, 3]);
          expect(img.data).toBeInstanceOf(Uint8Array);
          expect(Array.from(img.data)).toEqual(expectedRgb(spec));
          const f = decodeImage(bytes, { dtype: 'float32' });
          expect(f.data).toBeInstanceOf(Float32Array);
          const want = expectedRgb(spec, true);
          for (let i = 0; i < want.length; i++) expect(f.data[i]).toBeCloseTo(want[i], 4);
        }
      }
    });
  }

  it('drops alpha and ignores tRNS without touching the colour (TF strips alpha, no compositing)', () => {
    // RGB with a tRNS colour key matching pixel 0, grey with a key, palette with alpha entries.
    const rgb: PngSpec = { width: 2, height: 1, colorType: 2, depth: 8, samples: [10, 20, 30, 40, 50, 60] };
    const trnsRgb = new Uint8Array([0, 10, 0, 20, 0, 30]);
    expect(Array.from(decodeImage(makePng({ ...rgb, trns: trnsRgb })).data)).toEqual([
      10, 20, 30, 40, 50, 60,
    ]);
    const grey: PngSpec = { width: 3, height: 1, colorType: 0, depth: 8, samples: [7, 8, 9] };
    expect(Array.from(decodeImage(makePng({ ...grey, trns: new Uint8Array([0, 8]) })).data)).toEqual([
      7, 7, 7, 8, 8, 8, 9, 9, 9,
    ]);
    const pal: PngSpec = {
      width: 2,
      height: 1,
      colorType: 3,
      depth: 8,
      samples: [1, 0],
      palette: [
        [1, 2, 3],
        [4, 5, 6],
      ],
      trns: new Uint8Array([0, 128]),
    };
    expect(Array.from(decodeImage(makePng(pal)).data)).toEqual([4, 5, 6, 1, 2, 3]);
    const rgba: PngSpec = { width: 1, height: 1, colorType: 6, depth: 8, samples: [200, 100, 50, 0] };
    expect(Array.from(decodeImage(makePng(rgba)).data)).toEqual([200, 100, 50]);
  });
});

describe('JPEG decoding', () => {
  it('decodes close to the source pixels at sizes off the 8x8 grid (exactness: decode-reference.test.ts)', () => {
    for (const [w, h] of [
      [1, 1],
      [7, 5],
      [17, 33],
      [64, 48],
    ]) {
      const { bytes, rgba } = jpegOf(w, h, 100);
      const img = decodeImage(bytes, { path: 'a.jpg' });
      expect([img.width, img.height]).toEqual([w, h]);
      // Lossy at quality 100 with 4:2:0 chroma: a few levels off, never wildly.
      let worst = 0;
      for (let p = 0; p < w * h; p++) {
        for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(img.data[p * 3 + k] - rgba[p * 4 + k]));
      }
      expect(worst, `${w}x${h} worst error`).toBeLessThanOrEqual(24);
      const f = decodeImage(bytes, { dtype: 'float32' });
      expect(Array.from(f.data)).toEqual(Array.from(img.data));
    }
  });

  it('reads the size from the SOF header without decoding', () => {
    const { bytes } = jpegOf(37, 21);
    expect(readImageHeader(bytes)).toEqual({ format: 'jpeg', width: 37, height: 21 });
    const png = makePng(randomSpec(rng(1), 2, 8, 9, 4));
    expect(readImageHeader(png)).toEqual({ format: 'png', width: 9, height: 4 });
  });
});

describe('format detection by magic bytes', () => {
  it('decodes a PNG named .jpg and a JPEG named .png', () => {
    const spec = randomSpec(rng(3), 2, 8, 4, 4);
    expect(Array.from(decodeImage(makePng(spec), { path: 'really-a-png.jpg' }).data)).toEqual(
      expectedRgb(spec),
    );
    expect(decodeImage(jpegOf(8, 8).bytes, { path: 'really-a-jpeg.png' }).width).toBe(8);
  });

  it('names unsupported and unknown formats', () => {
    const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
    expect(sniffFormat(ascii('GIF89a\x01\x00\x01\x00'))).toBe('gif');
    expect(sniffFormat(ascii('RIFF\x10\x00\x00\x00WEBPVP8 '))).toBe('webp');
    expect(sniffFormat(ascii('hello'))).toBe(null);
    expectDecodeError(
      () => decodeImage(ascii('GIF89a\x01\x00\x01\x00\x00\x00'), { path: 'a.gif' }),
      'a.gif',
      /GIF/,
    );
    expectDecodeError(() => decodeImage(ascii(`BM${'\x00'.repeat(40)}`), { path: 'a.bmp' }), 'a.bmp', /BMP/);
    expectDecodeError(() => decodeImage(ascii('RIFF\x10\x00\x00\x00WEBPVP8 '), { path: 'w' }), 'w', /WEBP/);
    expectDecodeError(
      () => decodeImage(ascii('just some text\n'), { path: 'notes.jpg' }),
      'notes.jpg',
      /not a JPEG or PNG/,
    );
    expectDecodeError(
      () => decodeImage(new Uint8Array(0), { path: 'empty.jpg' }),
      'empty.jpg',
      /empty \(0 bytes\)/,
    );
    expectDecodeError(() => decodeImage(new Uint8Array(0)), '<bytes>');
  });
});

describe('argument errors and decodeAndResize', () => {
  it('rejects bad arguments with ArgumentError', () => {
    const bytes = jpegOf(4, 4).bytes;
    expect(() => decodeImage([1, 2, 3] as unknown as Uint8Array)).toThrow(ArgumentError);
    expect(() => decodeImage([1, 2, 3] as unknown as Uint8Array)).toThrow(
      /decodeImage: bytes must be a Uint8Array/,
    );
    expect(() => decodeImage(bytes, { maxPixels: 0 })).toThrow(/maxPixels must be a positive number, got 0/);
    expect(() => decodeImage(bytes, { dtype: 'int8' } as unknown as { dtype: 'uint8' })).toThrow(
      /dtype must be 'uint8' or 'float32', got "int8"/,
    );
    expect(() => decodeAndResize(bytes, { size: [0, 3] })).toThrow(/size must be \[height, width\]/);
    expect(() => decodeAndResize(bytes, { size: [3, 3] }, new Float32Array(5))).toThrow(
      /out has 5 values, the image needs 27/,
    );
  });

  it('equals decodeImage followed by resizeBilinearCpu, with crop and pad', () => {
    const { bytes } = jpegOf(30, 20);
    const img = decodeImage(bytes);
    for (const opts of [{}, { cropToAspectRatio: true }, { padToAspectRatio: true }]) {
      const r = decodeAndResize(bytes, { size: [9, 11], ...opts });
      expect([r.srcWidth, r.srcHeight]).toEqual([30, 20]);
      expect(Array.from(r.pixels)).toEqual(Array.from(resizeBilinearCpu(img, [9, 11], opts)));
    }
  });
});
