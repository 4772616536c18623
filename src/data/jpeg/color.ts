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

/**
 * One component upsampled to full size, a row at a time: `row(y)` fills (or points into) `buf`
 * and returns the offset of output row y's first sample there. Full-size components are read in
 * place from the IDCT plane; the others go through one row buffer.
 */
class RowSource {
  buf: Uint8Array;
  private readonly src: Uint8Array;
  private readonly line: Uint8Array;
  private readonly sum: Int32Array;

  constructor(
    private readonly p: Plane,
    private readonly cw: number,
    private readonly ch: number,
    private readonly hx: number,
    private readonly vx: number,
    private readonly W: number,
  ) {
    this.src = p.data;
    this.line = new Uint8Array(Math.max(W, cw * hx));
    this.sum = new Int32Array(cw);
    this.buf = hx === 1 && vx === 1 ? p.data : this.line;
  }

  /** Offset of source row r (clamped: rows above the top / below the bottom repeat the edge row). */
  private at(r: number): number {
    return (r < 0 ? 0 : r >= this.ch ? this.ch - 1 : r) * this.p.stride;
  }

  row(y: number): number {
    const { src, line: out, cw, hx, vx, W } = this;
    if (hx === 1 && vx === 1) return y * this.p.stride;
    // In the fancy cases the row has 2 * cw >= W samples: the last is dropped when W is odd.
    if (hx === 2 && vx === 1 && cw > 2) {
      const o = this.at(y);
      let v = src[o];
      out[0] = v;
      out[1] = (v * 3 + src[o + 1] + 2) >> 2;
      for (let i = 1; i < cw - 1; i++) {
        v = src[o + i] * 3;
        out[2 * i] = (v + src[o + i - 1] + 1) >> 2;
        out[2 * i + 1] = (v + src[o + i + 1] + 2) >> 2;
      }
      v = src[o + cw - 1];
      out[2 * cw - 2] = (v * 3 + src[o + cw - 2] + 1) >> 2;
      out[2 * cw - 1] = v;
      return 0;
    }
    const r = Math.floor(y / vx);
    if (hx === 1 && vx === 2) {
      const near = this.at(r);
      const far = y & 1 ? this.at(r + 1) : this.at(r - 1);
      const bias = y & 1 ? 2 : 1;
      for (let x = 0; x < W; x++) out[x] = (src[near + x] * 3 + src[far + x] + bias) >> 2;
      return 0;
    }
    if (hx === 2 && vx === 2 && cw > 2) {
      const sum = this.sum;
      const near = this.at(r);
      const far = y & 1 ? this.at(r + 1) : this.at(r - 1);
      for (let i = 0; i < cw; i++) sum[i] = src[near + i] * 3 + src[far + i];
      out[0] = (sum[0] * 4 + 8) >> 4;
      out[1] = (sum[0] * 3 + sum[1] + 7) >> 4;
      for (let i = 1; i < cw - 1; i++) {
        out[2 * i] = (sum[i] * 3 + sum[i - 1] + 8) >> 4;
        out[2 * i + 1] = (sum[i] * 3 + sum[i + 1] + 7) >> 4;
      }
      out[2 * cw - 2] = (sum[cw - 1] * 3 + sum[cw - 2] + 8) >> 4;
      out[2 * cw - 1] = (sum[cw - 1] * 4 + 7) >> 4;
      return 0;
    }
    // Integer factors without a fancy method: each sample repeated hx times across and vx down.
    const o = this.at(r);
    for (let x = 0; x < W; x++) out[x] = src[o + Math.floor(x / hx)];
    return 0;
  }
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
  const rows = f.components.map((c, i) => {
    if (f.maxH % c.h !== 0 || f.maxV % c.v !== 0) {
      throw new JpegDataError(`unsupported fractional sampling factors ${c.h}x${c.v} of ${f.maxH}x${f.maxV}`);
    }
    return new RowSource(planes[i], c.width, c.height, f.maxH / c.h, f.maxV / c.v, W);
  });
  const out = new Uint8Array(W * H * 3);
  const cs = colorSpace(f);
  const [s0, s1, s2, s3] = rows;
  for (let y = 0, o = 0; y < H; y++) {
    const a0 = s0.row(y);
    const b0 = s0.buf;
    if (cs === 'gray') {
      for (let x = 0; x < W; x++, o += 3) out[o] = out[o + 1] = out[o + 2] = b0[a0 + x];
      continue;
    }
    const a1 = s1.row(y);
    const a2 = s2.row(y);
    const b1 = s1.buf;
    const b2 = s2.buf;
    if (cs === 'rgb') {
      for (let x = 0; x < W; x++, o += 3) {
        out[o] = b0[a0 + x];
        out[o + 1] = b1[a1 + x];
        out[o + 2] = b2[a2 + x];
      }
    } else if (cs === 'ycc') {
      for (let x = 0; x < W; x++, o += 3) {
        const Y = b0[a0 + x] + 384;
        const cb = b1[a1 + x];
        const cr = b2[a2 + x];
        out[o] = LIMIT[Y + CR_R[cr]];
        out[o + 1] = LIMIT[Y + ((CB_G[cb] + CR_G[cr]) >> 16)];
        out[o + 2] = LIMIT[Y + CB_B[cb]];
      }
    } else {
      const a3 = s3.row(y);
      cmykRow(b0, a0, b1, a1, b2, a2, s3.buf, a3, W, cs === 'ycck', f.adobeTransform >= 0, out, o);
      o += W * 3;
    }
  }
  return out;
}

/**
 * One row of CMYK (or YCCK, first turned into CMYK by jdcolor.c ycck_cmyk_convert) to RGB as
 * TensorFlow's jpeg_mem.cc does: Adobe files store inverted CMYK, so R = K*C/255; otherwise
 * (255-K)(255-C)/255.
 */
function cmykRow(
  b0: Uint8Array,
  a0: number,
  b1: Uint8Array,
  a1: number,
  b2: Uint8Array,
  a2: number,
  b3: Uint8Array,
  a3: number,
  W: number,
  ycck: boolean,
  inverted: boolean,
  out: Uint8Array,
  o: number,
): void {
  for (let x = 0; x < W; x++, o += 3) {
    let c0 = b0[a0 + x];
    let c1 = b1[a1 + x];
    let c2 = b2[a2 + x];
    if (ycck) {
      const Y = c0;
      const cb = c1;
      c0 = 255 - clamp(Y + CR_R[c2]);
      c1 = 255 - clamp(Y + ((CB_G[cb] + CR_G[c2]) >> 16));
      c2 = 255 - clamp(Y + CB_B[cb]);
    }
    const K = b3[a3 + x];
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
}
