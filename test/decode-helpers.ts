import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { expect } from 'vitest';
import { ImageDecodeError } from '../src/data/errors.js';
import { rng } from './helpers.js';

/* Image builders and checks shared by test/decode-formats.test.ts and test/decode-safety.test.ts. */

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
export function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(Buffer.from(type, 'ascii'), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
export const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
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

export interface PngSpec {
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

export function makePng(spec: PngSpec): Uint8Array {
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
export function makePngFromRaw(ihdr: Uint8Array, raw: Uint8Array): Uint8Array {
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** What TensorFlow's decode_image(channels=3) gives for these samples (the oracle). */
export function expectedRgb(spec: PngSpec, float = false): number[] {
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

export function randomSpec(
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

export function jpegOf(
  w: number,
  h: number,
  quality = 95,
  seed = 1,
): { bytes: Uint8Array; rgba: Uint8Array } {
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

export function expectDecodeError(fn: () => unknown, path: string, reason?: RegExp): ImageDecodeError {
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
