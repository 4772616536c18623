import pngjs from 'pngjs';
import { ImageDecodeError } from './errors.js';

/**
 * PNG decoding through pngjs, made safe and TensorFlow-compatible: the chunk structure, CRCs and
 * IHDR are checked here first, and (in Node) the inflated size is checked against the header
 * before pngjs runs, because pngjs inflates interlaced images without a limit and returns
 * uninitialised memory as pixels when the image data is short. Used by `decode.ts`.
 */

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function fail(path: string, reason: string): never {
  throw new ImageDecodeError(path, reason);
}

const be32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** Width and height from IHDR, after checking its fields. */
export function pngHeader(b: Uint8Array, path: string): { width: number; height: number } {
  if (b.length < 33) fail(path, `truncated PNG: ${b.length} bytes cannot hold the IHDR header`);
  if (be32(b, 8) !== 13 || String.fromCharCode(b[12], b[13], b[14], b[15]) !== 'IHDR')
    fail(path, 'corrupt PNG: the first chunk is not IHDR');
  const width = be32(b, 16);
  const height = be32(b, 20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    fail(path, `corrupt PNG: IHDR gives size ${width}x${height}`);
  }
  const [depth, colorType, compression, filter, interlace] = b.subarray(24, 29);
  const depths: Record<number, number[]> = {
    0: [1, 2, 4, 8, 16],
    2: [8, 16],
    3: [1, 2, 4, 8],
    4: [8, 16],
    6: [8, 16],
  };
  if (!depths[colorType]?.includes(depth)) {
    fail(path, `corrupt PNG: IHDR gives colour type ${colorType} with bit depth ${depth}`);
  }
  if (compression !== 0 || filter !== 0 || interlace > 1) {
    fail(
      path,
      `corrupt PNG: IHDR gives compression ${compression}, filter ${filter}, interlace ${interlace}`,
    );
  }
  return { width, height };
}

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function crc32(b: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * Checks the chunk structure and CRCs (pngjs reports a CRC error as "unrecognised content") and
 * returns the PNG as libpng would read it for TF: ancillary chunks with a bad CRC are dropped (a
 * warning in libpng), bytes after IEND are ignored, and tRNS is removed because TensorFlow drops
 * alpha and keeps the colour of transparent pixels while pngjs zeroes colour-keyed pixels.
 */
function sanitizePng(b: Uint8Array, path: string): Uint8Array {
  const keep: Array<[number, number]> = [[0, 8]];
  const idat: Uint8Array[] = [];
  let o = 8;
  for (;;) {
    if (o + 12 > b.length)
      fail(path, `truncated PNG: the file ends at byte ${b.length} before the IEND chunk`);
    const len = be32(b, o);
    const type = String.fromCharCode(b[o + 4], b[o + 5], b[o + 6], b[o + 7]);
    const end = o + 12 + len;
    if (len > 0x7fffffff || end > b.length) {
      fail(
        path,
        `truncated PNG: chunk ${JSON.stringify(type)} at byte ${o} needs ${len} bytes, past the end of the file`,
      );
    }
    if (!/^[A-Za-z]{4}$/.test(type)) fail(path, `corrupt PNG: invalid chunk type at byte ${o}`);
    const critical = (b[o + 4] & 0x20) === 0;
    if (crc32(b, o + 4, o + 8 + len) !== be32(b, o + 8 + len)) {
      if (critical) fail(path, `corrupt PNG: bad CRC in the ${JSON.stringify(type)} chunk at byte ${o}`);
    } else if (type !== 'tRNS') keep.push([o, end]);
    if (type === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + len));
    o = end;
    if (type === 'IEND') break;
  }
  // Without image data pngjs would return uninitialised memory as pixels.
  if (idat.every((c) => c.length === 0)) fail(path, 'corrupt PNG: no image data (IDAT)');
  checkInflatedSize(b, idat, path);
  const total = keep.reduce((n, [s, e]) => n + e - s, 0);
  if (total === b.length) return b;
  const out = new Uint8Array(total);
  let w = 0;
  for (const [s, e] of keep) {
    out.set(b.subarray(s, e), w);
    w += e - s;
  }
  return out;
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/**
 * pngjs inflates interlaced images without an output limit (a small file could inflate to
 * gigabytes), and when the data is too short it returns uninitialised memory as pixels. In Node,
 * inflate once with the exact size the header implies and refuse anything longer or shorter.
 * (Browsers have no synchronous inflate: there the check is skipped.)
 */
function checkInflatedSize(b: Uint8Array, idat: Uint8Array[], path: string): void {
  type Zlib = { inflateSync(data: Uint8Array, opts: { maxOutputLength: number }): Uint8Array };
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = proc?.getBuiltinModule?.('zlib') as Zlib | undefined;
  if (!zlib) return;
  const [w, h] = [be32(b, 16), be32(b, 20)];
  const bits = PNG_CHANNELS[b[25]] * b[24];
  let limit = 0;
  for (const [x0, y0, dx, dy] of b[28] === 1 ? ADAM7 : [[0, 0, 1, 1]]) {
    const pw = Math.ceil((w - x0) / dx);
    const ph = Math.ceil((h - y0) / dy);
    if (pw > 0 && ph > 0) limit += ph * (1 + Math.ceil((pw * bits) / 8));
  }
  const data = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of idat) {
    data.set(c, o);
    o += c.length;
  }
  let got = 0;
  try {
    got = zlib.inflateSync(data, { maxOutputLength: limit + 1 }).length;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      fail(path, `corrupt PNG: the image data inflates to more than the ${limit} bytes its header allows`);
    }
    fail(path, `corrupt PNG: cannot inflate the image data (${(e as Error).message})`);
  }
  if (got < limit)
    fail(path, `truncated PNG: the image data inflates to ${got} of the ${limit} bytes needed`);
}

interface PngPixels {
  rgba: Uint8Array | Uint16Array;
  depth: number;
  colorType: number;
}

function decodePngRgba(bytes: Uint8Array, path: string): PngPixels {
  const src = sanitizePng(bytes, path);
  const buf = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  // skipRescale: we convert depths ourselves (TF keeps the high byte of 16-bit samples; pngjs rounds).
  const png = pngjs.PNG.sync.read(buf, { skipRescale: true, checkCRC: false });
  const meta = png as unknown as { depth: number; colorType: number; data: Uint8Array | Uint16Array };
  return { rgba: meta.data, depth: meta.depth, colorType: meta.colorType };
}

/** RGBA samples (any depth) to RGB, as 8-bit values or, for `float`, full-precision 0..255. */
function pngToRgb<D extends Uint8Array | Float32Array>(p: PngPixels, n: number, out: D): D {
  const { rgba, depth, colorType } = p;
  if (rgba.length < n * 4) throw new Error(`pngjs returned ${rgba.length} samples for ${n} pixels`);
  const isFloat = out instanceof Float32Array;
  // Palette entries are already 8-bit; grey of 1/2/4 bits is scaled as libpng expands it.
  const scale =
    colorType === 3 || depth === 8 ? 1 : depth === 16 ? (isFloat ? 1 / 257 : 0) : 255 / (2 ** depth - 1);
  for (let i = 0, o = 0; i < n * 4; i += 4) {
    for (let k = 0; k < 3; k++) {
      const v = rgba[i + k];
      out[o++] = scale === 0 ? v >>> 8 : v * scale;
    }
  }
  return out;
}

/** Decodes a PNG of `n` pixels into `out` as RGB (8-bit values, or 0..255 floats for Float32Array). */
export function decodePng<D extends Uint8Array | Float32Array>(
  bytes: Uint8Array,
  path: string,
  n: number,
  out: D,
): D {
  return pngToRgb(decodePngRgba(bytes, path), n, out);
}
