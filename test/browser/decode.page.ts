/**
 * Page side of the browser decode check: decodes and resizes the given image bytes with the
 * browser bundle (dist/browser/wgsl-nn.js), so web.test.ts can compare every value with Node's.
 * Bundled with kernels.page.ts; `window.runDecodeChecks(files)` is called by the test.
 */
import { decodeAndResize, decodeImage, type Interpolation } from '../../src/index.js';

/**
 * What the page computes for one file: digests of the exact bytes of each output (large arrays
 * are slow to send back through page.evaluate), and the values of the lanczos resize.
 */
export interface DecodeResult {
  name: string;
  width: number;
  height: number;
  fast: string;
  accurate: string;
  oriented: string;
  resized: Record<string, string>;
  lanczos: number[];
  error?: string;
}

/** Length and two FNV-1a hashes of the bytes of a typed array. */
export function digest(a: Uint8Array | Float32Array): string {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < b.length; i++) {
    h1 = Math.imul(h1 ^ b[i], 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ b[i] ^ (i & 255), 0x5bd1e995) >>> 0;
  }
  return `${b.length}:${h1.toString(16)}:${h2.toString(16)}`;
}

/** The resize variants checked (192x192 as in the lab, and a small odd size). */
export const RESIZES: Array<{
  key: string;
  size: [number, number];
  interpolation: Interpolation;
  antialias: boolean;
}> = [
  { key: 'bilinear-192', size: [192, 192], interpolation: 'bilinear', antialias: false },
  { key: 'bicubic-13x7', size: [13, 7], interpolation: 'bicubic', antialias: false },
  { key: 'area-13x7', size: [13, 7], interpolation: 'area', antialias: false },
  { key: 'lanczos3-aa-13x7', size: [13, 7], interpolation: 'lanczos3', antialias: true },
];

/** Everything the page and Node both compute for `bytes`. */
export function decodeAll(name: string, bytes: Uint8Array): DecodeResult {
  try {
    const fast = decodeImage(bytes);
    const resized: Record<string, string> = {};
    let lanczos: number[] = [];
    for (const r of RESIZES) {
      const opts = { size: r.size, interpolation: r.interpolation, antialias: r.antialias };
      const px = decodeAndResize(bytes, opts).pixels;
      resized[r.key] = digest(px);
      if (r.interpolation === 'lanczos3') lanczos = Array.from(px);
    }
    return {
      name,
      width: fast.width,
      height: fast.height,
      fast: digest(fast.data),
      accurate: digest(decodeImage(bytes, { dctMethod: 'INTEGER_ACCURATE' }).data),
      oriented: digest(decodeImage(bytes, { applyExifOrientation: true }).data),
      resized,
      lanczos,
    };
  } catch (e) {
    const none = { fast: '', accurate: '', oriented: '', resized: {}, lanczos: [] };
    return { name, width: 0, height: 0, ...none, error: String(e) };
  }
}

export function runDecodeChecks(files: Array<{ name: string; bytes: number[] }>): DecodeResult[] {
  return files.map((f) => decodeAll(f.name, new Uint8Array(f.bytes)));
}
