import { JpegDataError } from './huffman.js';
import type { Plane } from './idct.js';
import type { JpegFrame } from './parse.js';

/**
 * Chroma upsampling and colour conversion to RGB, as libjpeg-turbo does them by default:
 * "fancy" (triangular) upsampling for h2v1, h1v2 and h2v2 (jdsample.c: edge columns special-cased,
 * rows above the top / below the bottom replicated from the first / last real row), plain
 * replication for other integer factors, then the fixed-point YCbCr->RGB tables of jdcolor.c.
 * CMYK / YCCK are turned into RGB the way TensorFlow's `decode_jpeg(channels=3)` does.
 */

/** A component upsampled to the full image size (width x height, row-major). */
function upsample(
  p: Plane,
  cw: number,
  ch: number,
  hx: number,
  vx: number,
  W: number,
  H: number,
): Uint8Array {
  const out = new Uint8Array(W * H);
  const src = p.data;
  const s = p.stride;
  const row = (r: number): number => (r < 0 ? 0 : r >= ch ? ch - 1 : r) * s;
  if (hx === 1 && vx === 1) {
    for (let y = 0; y < H; y++) out.set(src.subarray(y * s, y * s + W), y * W);
    return out;
  }
  // In the fancy cases the output row has 2 * cw >= W samples: the last one is dropped when W is odd.
  if (hx === 2 && vx === 1 && cw > 2) {
    for (let y = 0; y < H; y++) {
      const o = y * s;
      const d = y * W;
      let v = src[o];
      out[d] = v;
      out[d + 1] = (v * 3 + src[o + 1] + 2) >> 2;
      for (let i = 1; i < cw - 1; i++) {
        v = src[o + i] * 3;
        out[d + 2 * i] = (v + src[o + i - 1] + 1) >> 2;
        out[d + 2 * i + 1] = (v + src[o + i + 1] + 2) >> 2;
      }
      v = src[o + cw - 1];
      out[d + 2 * cw - 2] = (v * 3 + src[o + cw - 2] + 1) >> 2;
      if (2 * cw - 1 < W) out[d + 2 * cw - 1] = v;
    }
    return out;
  }
  if (hx === 1 && vx === 2) {
    for (let y = 0; y < H; y++) {
      const r = y >> 1;
      const near = row(r);
      const far = y & 1 ? row(r + 1) : row(r - 1);
      const bias = y & 1 ? 2 : 1;
      for (let x = 0; x < W; x++) out[y * W + x] = (src[near + x] * 3 + src[far + x] + bias) >> 2;
    }
    return out;
  }
  if (hx === 2 && vx === 2 && cw > 2) {
    const sum = new Int32Array(cw);
    for (let y = 0; y < H; y++) {
      const r = y >> 1;
      const near = row(r);
      const far = y & 1 ? row(r + 1) : row(r - 1);
      const d = y * W;
      for (let i = 0; i < cw; i++) sum[i] = src[near + i] * 3 + src[far + i];
      out[d] = (sum[0] * 4 + 8) >> 4;
      out[d + 1] = (sum[0] * 3 + sum[1] + 7) >> 4;
      for (let i = 1; i < cw - 1; i++) {
        out[d + 2 * i] = (sum[i] * 3 + sum[i - 1] + 8) >> 4;
        out[d + 2 * i + 1] = (sum[i] * 3 + sum[i + 1] + 7) >> 4;
      }
      out[d + 2 * cw - 2] = (sum[cw - 1] * 3 + sum[cw - 2] + 8) >> 4;
      if (2 * cw - 1 < W) out[d + 2 * cw - 1] = (sum[cw - 1] * 4 + 7) >> 4;
    }
    return out;
  }
  // Integer factors without a fancy method: each sample repeated hx times across and vx down.
  for (let y = 0; y < H; y++) {
    const o = row(Math.floor(y / vx));
    for (let x = 0; x < W; x++) out[y * W + x] = src[o + Math.floor(x / hx)];
  }
  return out;
}

// jdcolor.c build_ycc_rgb_table: SCALEBITS 16, FIX(x) = round(x * 65536).
const FIX = (x: number): number => Math.floor(x * 65536 + 0.5);
const HALF = 1 << 15;
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (FIX(1.402) * x + HALF) >> 16;
  CB_B[i] = (FIX(1.772) * x + HALF) >> 16;
  CR_G[i] = -FIX(0.71414) * x;
  CB_G[i] = -FIX(0.34414) * x + HALF;
}
const clamp = (v: number): number => Math.max(0, Math.min(v, 255));
/** libjpeg's sample_range_limit: LIMIT[v + 384] = v clamped to 0..255, for v in -384..639. */
const LIMIT = Uint8Array.from({ length: 1024 }, (_, i) => clamp(i - 384));

type ColorSpace = 'gray' | 'ycc' | 'rgb' | 'cmyk' | 'ycck';

/** libjpeg's guess of the colour space (jdapimin.c default_decompress_parms). */
function colorSpace(f: JpegFrame): ColorSpace {
  const ids = f.components.map((c) => c.id);
  if (ids.length === 1) return 'gray';
  if (ids.length === 3) {
    if (f.jfif) return 'ycc';
    if (f.adobeTransform >= 0) return f.adobeTransform === 0 ? 'rgb' : 'ycc';
    if (ids[0] === 82 && ids[1] === 71 && ids[2] === 66) return 'rgb';
    return 'ycc';
  }
  if (ids.length === 4) return f.adobeTransform === 0 || f.adobeTransform < 0 ? 'cmyk' : 'ycck';
  throw new JpegDataError(`unsupported number of components ${ids.length}`);
}

/** Upsamples the component planes and converts them to interleaved RGB (width x height x 3). */
export function toRgb(f: JpegFrame, planes: Plane[]): Uint8Array {
  const W = f.width;
  const H = f.height;
  const full = f.components.map((c, i) => {
    if (f.maxH % c.h !== 0 || f.maxV % c.v !== 0) {
      throw new JpegDataError(`unsupported fractional sampling factors ${c.h}x${c.v} of ${f.maxH}x${f.maxV}`);
    }
    return upsample(planes[i], c.width, c.height, f.maxH / c.h, f.maxV / c.v, W, H);
  });
  const n = W * H;
  const out = new Uint8Array(n * 3);
  const cs = colorSpace(f);
  if (cs === 'gray') {
    const g = full[0];
    for (let i = 0, o = 0; i < n; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = g[i];
    return out;
  }
  if (cs === 'rgb') {
    const [r, g, b] = full;
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      out[o] = r[i];
      out[o + 1] = g[i];
      out[o + 2] = b[i];
    }
    return out;
  }
  const [y, cb, cr] = full;
  if (cs === 'ycc') {
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const Y = y[i];
      const b = cb[i];
      const r = cr[i];
      out[o] = LIMIT[Y + CR_R[r] + 384];
      out[o + 1] = LIMIT[Y + ((CB_G[b] + CR_G[r]) >> 16) + 384];
      out[o + 2] = LIMIT[Y + CB_B[b] + 384];
    }
    return out;
  }
  // CMYK (or YCCK, first turned into CMYK by jdcolor.c ycck_cmyk_convert), then TensorFlow's
  // jpeg_mem.cc: Adobe files store inverted CMYK, so R = K*C/255; otherwise (255-K)(255-C)/255.
  const k = full[3];
  const inverted = f.adobeTransform >= 0;
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    let c0 = y[i];
    let c1 = cb[i];
    let c2 = cr[i];
    if (cs === 'ycck') {
      const Y = c0;
      c0 = 255 - clamp(Y + CR_R[c2]);
      c1 = 255 - clamp(Y + ((CB_G[c1] + CR_G[c2]) >> 16));
      c2 = 255 - clamp(Y + CB_B[cb[i]]);
    }
    const K = k[i];
    if (inverted) {
      out[o] = Math.trunc((K * c0) / 255);
      out[o + 1] = Math.trunc((K * c1) / 255);
      out[o + 2] = Math.trunc((K * c2) / 255);
    } else {
      out[o] = Math.trunc(((255 - K) * (255 - c0)) / 255);
      out[o + 1] = Math.trunc(((255 - K) * (255 - c1)) / 255);
      out[o + 2] = Math.trunc(((255 - K) * (255 - c2)) / 255);
    }
  }
  return out;
}
