import { deflateSync, inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeAndResize, decodeImage, readImageHeader, sniffFormat } from '../src/data/decode.js';
import { ImageDecodeError } from '../src/data/errors.js';
import { resizeBilinearCpu } from '../src/data/resize.js';
import { ArgumentError } from '../src/index.js';
import { rng } from './helpers.js';

// ---- A small PNG writer, so tests control every colour type, bit depth, palette and interlace. ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const v of b) c = CRC_TABLE[(c ^ v) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(Buffer.from(type, 'ascii'), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  depth: 1 | 2 | 4 | 8 | 16;
  /** Samples, row-major, `CHANNELS[colorType]` per pixel (palette indices for type 3). */
  samples: number[];
  palette?: Array<[number, number, number]>;
  trns?: Uint8Array;
  interlace?: boolean;
}

function packRow(spec: PngSpec, xs: number[], y: number): number[] {
  const ch = CHANNELS[spec.colorType];
  const vals = xs.flatMap((x) =>
    spec.samples.slice((y * spec.width + x) * ch, (y * spec.width + x + 1) * ch),
  );
  const row = [0]; // filter type None
  if (spec.depth === 16) for (const v of vals) row.push(v >> 8, v & 0xff);
  else if (spec.depth === 8) row.push(...vals);
  else {
    const per = 8 / spec.depth;
    for (let i = 0; i < vals.length; i += per) {
      let byte = 0;
      for (let k = 0; k < per; k++) byte |= (vals[i + k] ?? 0) << (8 - spec.depth * (k + 1));
      row.push(byte);
    }
  }
  return row;
}

function makePng(spec: PngSpec): Uint8Array {
  const { width: w, height: h } = spec;
  const raw: number[] = [];
  const passes = spec.interlace ? ADAM7 : [[0, 0, 1, 1]];
  for (const [x0, y0, dx, dy] of passes) {
    const xs: number[] = [];
    for (let x = x0; x < w; x += dx) xs.push(x);
    if (xs.length === 0) continue;
    for (let y = y0; y < h; y += dy) raw.push(...packRow(spec, xs, y));
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr.set([spec.depth, spec.colorType, 0, 0, spec.interlace ? 1 : 0], 8);
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (spec.palette) parts.push(chunk('PLTE', new Uint8Array(spec.palette.flat())));
  if (spec.trns) parts.push(chunk('tRNS', spec.trns));
  parts.push(
    chunk('IDAT', new Uint8Array(deflateSync(new Uint8Array(raw)))),
    chunk('IEND', new Uint8Array(0)),
  );
  return concat(parts);
}

/** A PNG from IHDR fields and raw (filtered) scanline bytes, for malformed images. */
function makePngFromRaw(ihdr: Uint8Array, raw: Uint8Array): Uint8Array {
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** What TensorFlow's decode_image(channels=3) gives for these samples (the oracle). */
function expectedRgb(spec: PngSpec, float = false): number[] {
  const ch = CHANNELS[spec.colorType];
  const conv = (v: number): number => {
    if (spec.depth === 16) return float ? v / 257 : v >> 8;
    if (spec.depth < 8) return (v * 255) / (2 ** spec.depth - 1);
    return v;
  };
  const out: number[] = [];
  for (let p = 0; p < spec.width * spec.height; p++) {
    const s = spec.samples.slice(p * ch, p * ch + ch);
    if (spec.colorType === 3) out.push(...spec.palette![s[0]]);
    else if (ch <= 2) out.push(conv(s[0]), conv(s[0]), conv(s[0]));
    else out.push(conv(s[0]), conv(s[1]), conv(s[2]));
  }
  return out;
}

function randomSpec(
  r: () => number,
  colorType: PngSpec['colorType'],
  depth: PngSpec['depth'],
  w: number,
  h: number,
) {
  const ch = CHANNELS[colorType];
  const max = colorType === 3 ? Math.min(2 ** depth, 7) : 2 ** depth;
  const samples = Array.from({ length: w * h * ch }, () => Math.floor(r() * max));
  const palette =
    colorType === 3
      ? Array.from(
          { length: max },
          () => [0, 0, 0].map(() => Math.floor(r() * 256)) as [number, number, number],
        )
      : undefined;
  return { width: w, height: h, colorType, depth, samples, palette } satisfies PngSpec;
}

function jpegOf(w: number, h: number, quality = 95, seed = 1): { bytes: Uint8Array; rgba: Uint8Array } {
  const r = rng(seed);
  const rgba = new Uint8Array(w * h * 4);
  const [a, b, c] = [r() * 3, r() * 3, r() * 3];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      rgba[i] = (128 + 100 * Math.sin((x + a) / 7)) | 0;
      rgba[i + 1] = (128 + 100 * Math.cos((y + b) / 5)) | 0;
      rgba[i + 2] = (40 + 3 * ((x + y + c) % 60)) | 0;
      rgba[i + 3] = 255;
    }
  }
  return { bytes: new Uint8Array(jpeg.encode({ data: rgba, width: w, height: h }, quality).data), rgba };
}

function expectDecodeError(fn: () => unknown, path: string, reason?: RegExp): ImageDecodeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImageDecodeError);
    const err = e as ImageDecodeError;
    expect(err.message).toContain(`'${path}'`);
    expect(err.path).toBe(path);
    if (reason) expect(err.reason).toMatch(reason);
    return err;
  }
  return expect.fail('expected an ImageDecodeError');
}

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

describe('safety limits', () => {
  it('refuses a JPEG whose SOF claims too many pixels before allocating', () => {
    // SOI, SOF0 claiming 60000x60000 (3.6 G pixels), then nothing.
    const sof = [
      0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0xea, 0x60, 0xea, 0x60, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
    ];
    const t = performance.now();
    expectDecodeError(
      () => decodeImage(new Uint8Array(sof), { path: 'big.jpg' }),
      'big.jpg',
      /3600000000 pixels, over maxPixels = 50000000/,
    );
    expect(performance.now() - t).toBeLessThan(50);
  });

  it('refuses a PNG whose IHDR claims too many pixels, and honours a smaller maxPixels', () => {
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, 100_000);
    new DataView(ihdr.buffer).setUint32(4, 100_000);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const png = concat([
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
    ]);
    expectDecodeError(() => decodeImage(png, { path: 'big.png' }), 'big.png', /100000x100000/);
    const { bytes } = jpegOf(20, 10);
    expectDecodeError(
      () => decodeImage(bytes, { path: 's.jpg', maxPixels: 199 }),
      's.jpg',
      /over maxPixels = 199/,
    );
    expect(decodeImage(bytes, { maxPixels: 200 }).width).toBe(20);
  });

  it('refuses a zip bomb: image data that inflates past what the header allows', () => {
    const ihdr = (interlace: number) => {
      const d = new Uint8Array(13);
      new DataView(d.buffer).setUint32(0, 4);
      new DataView(d.buffer).setUint32(4, 4);
      d.set([8, 2, 0, 0, interlace], 8);
      return chunk('IHDR', d);
    };
    // 32 MB of zeros deflate to ~32 KB; a 4x4 RGB image needs 52 bytes (55 interlaced: 7 passes + filter bytes).
    const bomb = new Uint8Array(deflateSync(new Uint8Array(32 << 20), { level: 9 }));
    const sig = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const make = (interlace: number) =>
      concat([sig, ihdr(interlace), chunk('IDAT', bomb), chunk('IEND', new Uint8Array(0))]);
    const [interlaced, plain] = [make(1), make(0)];
    const t = performance.now();
    expectDecodeError(
      () => decodeImage(interlaced, { path: 'bomb.png' }),
      'bomb.png',
      /inflates to more than the 55 bytes/,
    );
    expectDecodeError(() => decodeImage(plain, { path: 'bomb2.png' }), 'bomb2.png', /more than the 52 bytes/);
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it('refuses image data shorter than the header needs (pngjs would return uninitialised memory)', () => {
    for (const interlace of [false, true]) {
      const spec = { ...randomSpec(rng(8), 2, 8, 4, 3), interlace };
      const good = makePng(spec);
      const need = interlace ? 42 : 39;
      // Re-deflate the first 30 bytes of the raw scanlines only.
      const raw = inflateSync(good.subarray(41, good.length - 16));
      expect(raw.length).toBe(need);
      const short = makePngFromRaw(good.subarray(16, 29), raw.subarray(0, 30));
      expectDecodeError(
        () => decodeImage(short, { path: 's.png' }),
        's.png',
        new RegExp(`inflates to 30 of the ${need} bytes`),
      );
    }
  });

  it('rejects invalid IHDR fields', () => {
    const bad = (depth: number, colorType: number, interlace = 0) =>
      makePngFromRaw(
        new Uint8Array([0, 0, 0, 2, 0, 0, 0, 2, depth, colorType, 0, 0, interlace]),
        new Uint8Array(20),
      );
    expectDecodeError(() => decodeImage(bad(8, 7), { path: 'a' }), 'a', /colour type 7 with bit depth 8/);
    expectDecodeError(() => decodeImage(bad(16, 3), { path: 'a' }), 'a', /colour type 3 with bit depth 16/);
    expectDecodeError(() => decodeImage(bad(4, 2), { path: 'a' }), 'a', /colour type 2 with bit depth 4/);
    expectDecodeError(() => decodeImage(bad(8, 2, 2), { path: 'a' }), 'a', /interlace 2/);
  });

  it('reports a bad CRC, truncation and a zero-length IHDR size', () => {
    const good = makePng(randomSpec(rng(5), 2, 8, 6, 6));
    const badCrc = good.slice();
    badCrc[good.length - 13] ^= 0xff; // last byte of the IDAT CRC
    expectDecodeError(
      () => decodeImage(badCrc, { path: 'crc.png' }),
      'crc.png',
      /corrupt PNG: bad CRC in the "IDAT" chunk at byte 33/,
    );
    expectDecodeError(
      () => decodeImage(good.subarray(0, good.length - 20), { path: 't.png' }),
      't.png',
      /truncated PNG/,
    );
    // As libpng: an ancillary chunk with a bad CRC is dropped, bytes after IEND are ignored.
    const want = Array.from(decodeImage(good).data);
    const text = chunk('tEXt', new Uint8Array(Buffer.from('Comment\0hi', 'latin1')));
    text[text.length - 1] ^= 1;
    const withText = concat([good.subarray(0, 33), text, good.subarray(33)]);
    expect(Array.from(decodeImage(withText).data)).toEqual(want);
    expect(Array.from(decodeImage(concat([good, new Uint8Array([1, 2, 3])])).data)).toEqual(want);
    const zero = good.slice();
    zero.fill(0, 16, 20);
    expectDecodeError(() => decodeImage(zero, { path: 'z.png' }), 'z.png', /IHDR gives size 0x6/);
    const { bytes } = jpegOf(16, 16);
    expectDecodeError(
      () => decodeImage(bytes.subarray(0, bytes.length - 2), { path: 't.jpg' }),
      't.jpg',
      /corrupt JPEG data/,
    );
  });

  it('survives hostile inputs: every one decodes to the right size or throws ImageDecodeError, quickly', () => {
    const r = rng(2024);
    const seeds: Array<[string, Uint8Array]> = [
      ['jpeg', jpegOf(40, 30, 80).bytes],
      ['jpeg-q20', jpegOf(23, 17, 20, 9).bytes],
      ['png', makePng(randomSpec(r, 2, 8, 12, 10))],
      ['png-palette-interlaced', makePng({ ...randomSpec(r, 3, 4, 11, 7), interlace: true })],
      ['png16', makePng(randomSpec(r, 6, 16, 9, 9))],
    ];
    const hostile: Array<[string, Uint8Array]> = [];
    for (const [name, base] of seeds) {
      for (let i = 1; i < 40; i++)
        hostile.push([`${name}-trunc${i}`, base.subarray(0, Math.floor((base.length * i) / 40))]);
      for (let i = 0; i < 80; i++) {
        const m = base.slice();
        const flips = 1 + Math.floor(r() * 8);
        for (let k = 0; k < flips; k++) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
        hostile.push([`${name}-flip${i}`, m]);
      }
      // Length fields that lie: every 2-byte (JPEG) / 4-byte (PNG) window set to its maximum.
      for (let i = 0; i < 20; i++) {
        const m = base.slice();
        const at = 2 + Math.floor(r() * (m.length - 6));
        m.fill(0xff, at, at + (name.startsWith('png') ? 4 : 2));
        hostile.push([`${name}-len${i}`, m]);
      }
    }
    for (let i = 0; i < 30; i++) {
      const junk = Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256));
      const head = i % 2 ? [0xff, 0xd8, 0xff] : [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
      hostile.push([`junk${i}`, concat([new Uint8Array(head), junk])]);
    }
    let rejected = 0;
    let slowest = 0;
    for (const [name, bytes] of hostile) {
      const t = performance.now();
      try {
        const img = decodeImage(bytes, { path: name, maxPixels: 1e6 });
        expect(img.data.length, name).toBe(img.width * img.height * 3);
        // Deterministic: no uninitialised memory reaches the pixels.
        expect(decodeImage(bytes, { path: name }).data, name).toEqual(img.data);
      } catch (e) {
        if (!(e instanceof ImageDecodeError)) throw new Error(`${name}: ${(e as Error).stack}`);
        expect(e.message).toContain(`'${name}'`);
        rejected++;
      }
      slowest = Math.max(slowest, performance.now() - t);
    }
    console.log(
      `decode: tried ${hostile.length} hostile inputs: ${rejected} rejected with ImageDecodeError, ` +
        `${hostile.length - rejected} decoded (corruption in pixel data only); slowest ${slowest.toFixed(1)} ms`,
    );
    expect(rejected).toBeGreaterThan(hostile.length / 3);
    expect(slowest).toBeLessThan(2000);
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
