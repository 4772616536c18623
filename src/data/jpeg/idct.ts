import type { FrameComponent } from './parse.js';

/**
 * Dequantization and inverse DCT of every block of a component into an 8-bit sample plane,
 * bit-exact ports of libjpeg-turbo's `jpeg_idct_islow` (jidctint.c, `INTEGER_ACCURATE`) and
 * `jpeg_idct_ifast` (jidctfst.c with its scaled quantization table from jddctmgr.c,
 * `INTEGER_FAST`, TensorFlow's default for `decode_jpeg` / `decode_image`), including the
 * post-IDCT range limiting (10-bit wrap, then clamp).
 */

export type DctMethod = 'INTEGER_FAST' | 'INTEGER_ACCURATE';

/** One component's samples: `stride` = blocksW * 8 columns, blocksH * 8 rows. */
export interface Plane {
  data: Uint8Array;
  stride: number;
  rows: number;
}

/** libjpeg's IDCT_range_limit table: index (x + 128... wrapped to 10 bits) to a sample. */
function rangeLimit(x: number): number {
  const v = x & 1023;
  if (v < 128) return v + 128;
  if (v < 512) return 255;
  if (v < 896) return 0;
  return v - 896;
}
const LIMIT = Uint8Array.from({ length: 1024 }, (_, i) => rangeLimit(i));

// jidctint.c, CONST_BITS 13, PASS1_BITS 2.
const F0_298 = 2446;
const F0_390 = 3196;
const F0_541 = 4433;
const F0_765 = 6270;
const F0_899 = 7373;
const F1_175 = 9633;
const F1_501 = 12299;
const F1_847 = 15137;
const F1_961 = 16069;
const F2_053 = 16819;
const F2_562 = 20995;
const F3_072 = 25172;

function idctIslow(
  co: Int16Array,
  off: number,
  q: Int32Array,
  ws: Int32Array,
  out: Uint8Array,
  o: number,
  stride: number,
): void {
  for (let c = 0; c < 8; c++) {
    const i = off + c;
    if (
      co[i + 8] === 0 &&
      co[i + 16] === 0 &&
      co[i + 24] === 0 &&
      co[i + 32] === 0 &&
      co[i + 40] === 0 &&
      co[i + 48] === 0 &&
      co[i + 56] === 0
    ) {
      const dc = (co[i] * q[c]) << 2;
      for (let r = 0; r < 64; r += 8) ws[r + c] = dc;
      continue;
    }
    let z2 = co[i + 16] * q[c + 16];
    let z3 = co[i + 48] * q[c + 48];
    let z1 = (z2 + z3) * F0_541;
    let tmp2 = z1 + z3 * -F1_847;
    let tmp3 = z1 + z2 * F0_765;
    z2 = co[i] * q[c];
    z3 = co[i + 32] * q[c + 32];
    let tmp0 = (z2 + z3) << 13;
    let tmp1 = (z2 - z3) << 13;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = co[i + 56] * q[c + 56];
    tmp1 = co[i + 40] * q[c + 40];
    tmp2 = co[i + 24] * q[c + 24];
    tmp3 = co[i + 8] * q[c + 8];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F1_175;
    tmp0 *= F0_298;
    tmp1 *= F2_053;
    tmp2 *= F3_072;
    tmp3 *= F1_501;
    z1 *= -F0_899;
    z2 *= -F2_562;
    z3 = z3 * -F1_961 + z5;
    z4 = z4 * -F0_390 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    const R = 1 << 10;
    ws[c] = (tmp10 + tmp3 + R) >> 11;
    ws[c + 56] = (tmp10 - tmp3 + R) >> 11;
    ws[c + 8] = (tmp11 + tmp2 + R) >> 11;
    ws[c + 48] = (tmp11 - tmp2 + R) >> 11;
    ws[c + 16] = (tmp12 + tmp1 + R) >> 11;
    ws[c + 40] = (tmp12 - tmp1 + R) >> 11;
    ws[c + 24] = (tmp13 + tmp0 + R) >> 11;
    ws[c + 32] = (tmp13 - tmp0 + R) >> 11;
  }
  for (let r = 0; r < 64; r += 8, o += stride) {
    if (
      ws[r + 1] === 0 &&
      ws[r + 2] === 0 &&
      ws[r + 3] === 0 &&
      ws[r + 4] === 0 &&
      ws[r + 5] === 0 &&
      ws[r + 6] === 0 &&
      ws[r + 7] === 0
    ) {
      const v = LIMIT[((ws[r] + 16) >> 5) & 1023];
      out.fill(v, o, o + 8);
      continue;
    }
    let z2 = ws[r + 2];
    let z3 = ws[r + 6];
    let z1 = (z2 + z3) * F0_541;
    let tmp2 = z1 + z3 * -F1_847;
    let tmp3 = z1 + z2 * F0_765;
    let tmp0 = (ws[r] + ws[r + 4]) << 13;
    let tmp1 = (ws[r] - ws[r + 4]) << 13;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = ws[r + 7];
    tmp1 = ws[r + 5];
    tmp2 = ws[r + 3];
    tmp3 = ws[r + 1];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F1_175;
    tmp0 *= F0_298;
    tmp1 *= F2_053;
    tmp2 *= F3_072;
    tmp3 *= F1_501;
    z1 *= -F0_899;
    z2 *= -F2_562;
    z3 = z3 * -F1_961 + z5;
    z4 = z4 * -F0_390 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    const R = 1 << 17;
    out[o] = LIMIT[((tmp10 + tmp3 + R) >> 18) & 1023];
    out[o + 7] = LIMIT[((tmp10 - tmp3 + R) >> 18) & 1023];
    out[o + 1] = LIMIT[((tmp11 + tmp2 + R) >> 18) & 1023];
    out[o + 6] = LIMIT[((tmp11 - tmp2 + R) >> 18) & 1023];
    out[o + 2] = LIMIT[((tmp12 + tmp1 + R) >> 18) & 1023];
    out[o + 5] = LIMIT[((tmp12 - tmp1 + R) >> 18) & 1023];
    out[o + 3] = LIMIT[((tmp13 + tmp0 + R) >> 18) & 1023];
    out[o + 4] = LIMIT[((tmp13 - tmp0 + R) >> 18) & 1023];
  }
}

// jidctfst.c, CONST_BITS 8, PASS1_BITS 2, plain right shifts (no USE_ACCURATE_ROUNDING).
const A1_082 = 277;
const A1_414 = 362;
const A1_847 = 473;
const A2_613 = 669;

function idctIfast(
  co: Int16Array,
  off: number,
  q: Int32Array,
  ws: Int32Array,
  out: Uint8Array,
  o: number,
  stride: number,
): void {
  for (let c = 0; c < 8; c++) {
    const i = off + c;
    if (
      co[i + 8] === 0 &&
      co[i + 16] === 0 &&
      co[i + 24] === 0 &&
      co[i + 32] === 0 &&
      co[i + 40] === 0 &&
      co[i + 48] === 0 &&
      co[i + 56] === 0
    ) {
      const dc = co[i] * q[c];
      for (let r = 0; r < 64; r += 8) ws[r + c] = dc;
      continue;
    }
    let tmp0 = co[i] * q[c];
    let tmp1 = co[i + 16] * q[c + 16];
    let tmp2 = co[i + 32] * q[c + 32];
    let tmp3 = co[i + 48] * q[c + 48];
    let tmp10 = tmp0 + tmp2;
    let tmp11 = tmp0 - tmp2;
    const tmp13 = tmp1 + tmp3;
    let tmp12 = (((tmp1 - tmp3) * A1_414) >> 8) - tmp13;
    tmp0 = tmp10 + tmp13;
    tmp3 = tmp10 - tmp13;
    tmp1 = tmp11 + tmp12;
    tmp2 = tmp11 - tmp12;
    let tmp4 = co[i + 8] * q[c + 8];
    let tmp5 = co[i + 24] * q[c + 24];
    let tmp6 = co[i + 40] * q[c + 40];
    let tmp7 = co[i + 56] * q[c + 56];
    const z13 = tmp6 + tmp5;
    const z10 = tmp6 - tmp5;
    const z11 = tmp4 + tmp7;
    const z12 = tmp4 - tmp7;
    tmp7 = z11 + z13;
    tmp11 = ((z11 - z13) * A1_414) >> 8;
    const z5 = ((z10 + z12) * A1_847) >> 8;
    tmp10 = ((z12 * A1_082) >> 8) - z5;
    tmp12 = ((z10 * -A2_613) >> 8) + z5;
    tmp6 = tmp12 - tmp7;
    tmp5 = tmp11 - tmp6;
    tmp4 = tmp10 + tmp5;
    ws[c] = tmp0 + tmp7;
    ws[c + 56] = tmp0 - tmp7;
    ws[c + 8] = tmp1 + tmp6;
    ws[c + 48] = tmp1 - tmp6;
    ws[c + 16] = tmp2 + tmp5;
    ws[c + 40] = tmp2 - tmp5;
    ws[c + 32] = tmp3 + tmp4;
    ws[c + 24] = tmp3 - tmp4;
  }
  for (let r = 0; r < 64; r += 8, o += stride) {
    if (
      ws[r + 1] === 0 &&
      ws[r + 2] === 0 &&
      ws[r + 3] === 0 &&
      ws[r + 4] === 0 &&
      ws[r + 5] === 0 &&
      ws[r + 6] === 0 &&
      ws[r + 7] === 0
    ) {
      out.fill(LIMIT[(ws[r] >> 5) & 1023], o, o + 8);
      continue;
    }
    let tmp10 = ws[r] + ws[r + 4];
    let tmp11 = ws[r] - ws[r + 4];
    const tmp13 = ws[r + 2] + ws[r + 6];
    let tmp12 = (((ws[r + 2] - ws[r + 6]) * A1_414) >> 8) - tmp13;
    const tmp0 = tmp10 + tmp13;
    const tmp3 = tmp10 - tmp13;
    const tmp1 = tmp11 + tmp12;
    const tmp2 = tmp11 - tmp12;
    const z13 = ws[r + 5] + ws[r + 3];
    const z10 = ws[r + 5] - ws[r + 3];
    const z11 = ws[r + 1] + ws[r + 7];
    const z12 = ws[r + 1] - ws[r + 7];
    const tmp7 = z11 + z13;
    tmp11 = ((z11 - z13) * A1_414) >> 8;
    const z5 = ((z10 + z12) * A1_847) >> 8;
    tmp10 = ((z12 * A1_082) >> 8) - z5;
    tmp12 = ((z10 * -A2_613) >> 8) + z5;
    const tmp6 = tmp12 - tmp7;
    const tmp5 = tmp11 - tmp6;
    const tmp4 = tmp10 + tmp5;
    out[o] = LIMIT[((tmp0 + tmp7) >> 5) & 1023];
    out[o + 7] = LIMIT[((tmp0 - tmp7) >> 5) & 1023];
    out[o + 1] = LIMIT[((tmp1 + tmp6) >> 5) & 1023];
    out[o + 6] = LIMIT[((tmp1 - tmp6) >> 5) & 1023];
    out[o + 2] = LIMIT[((tmp2 + tmp5) >> 5) & 1023];
    out[o + 5] = LIMIT[((tmp2 - tmp5) >> 5) & 1023];
    out[o + 4] = LIMIT[((tmp3 + tmp4) >> 5) & 1023];
    out[o + 3] = LIMIT[((tmp3 - tmp4) >> 5) & 1023];
  }
}

// jddctmgr.c: AA&N scale factors, scaled up by 14 bits.
const AANSCALES = new Int32Array([
  16384, 22725, 21407, 19266, 16384, 12873, 8867, 4520, 22725, 31521, 29692, 26722, 22725, 17855, 12299, 6270,
  21407, 29692, 27969, 25172, 21407, 16819, 11585, 5906, 19266, 26722, 25172, 22654, 19266, 15137, 10426,
  5315, 16384, 22725, 21407, 19266, 16384, 12873, 8867, 4520, 12873, 17855, 16819, 15137, 12873, 10114, 6967,
  3552, 8867, 12299, 11585, 10426, 8867, 6967, 4799, 2446, 4520, 6270, 5906, 5315, 4520, 3552, 2446, 1247,
]);

/** The multiplier table each IDCT uses for a quantization table (natural order). */
function multipliers(qt: Uint16Array, method: DctMethod): Int32Array {
  const m = new Int32Array(64);
  for (let i = 0; i < 64; i++) {
    // ifast: DESCALE(q * aanscale, CONST_BITS(14) - IFAST_SCALE_BITS(2)) with rounding.
    m[i] = method === 'INTEGER_FAST' ? (qt[i] * AANSCALES[i] + (1 << 11)) >> 12 : qt[i];
  }
  return m;
}

/** Runs the IDCT over the blocks of `c` that cover its samples. */
export function componentPlane(c: FrameComponent, method: DctMethod): Plane {
  const stride = c.blocksW * 8;
  const rows = c.blocksH * 8;
  const data = new Uint8Array(stride * rows);
  const q = multipliers(c.qt, method);
  const ws = new Int32Array(64);
  const fn = method === 'INTEGER_FAST' ? idctIfast : idctIslow;
  for (let by = 0; by < c.blocksH; by++) {
    for (let bx = 0; bx < c.blocksW; bx++) {
      fn(c.coefs, (by * c.allocW + bx) * 64, q, ws, data, by * 8 * stride + bx * 8, stride);
    }
  }
  return { data, stride, rows };
}
