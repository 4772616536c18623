/**
 * A small baseline JPEG encoder for the decode benchmark: 4:2:0 (or 4:4:4) YCbCr, JFIF, libjpeg's
 * quality-scaled Annex K quantization tables and optimized Huffman tables (libjpeg's
 * jpeg_gen_optimal_table), so that the bench can make ordinary camera-like 4:2:0 JPEGs of any size
 * without committing image files. Not a library feature: correctness is checked by decoding the
 * result (bench/decode.ts asserts a PSNR).
 */

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array(32).fill(99),
];

function scaledTable(base: number[], quality: number): number[] {
  const s = quality < 50 ? Math.floor(5000 / quality) : 200 - quality * 2;
  return base.map((v) => Math.min(255, Math.max(1, Math.floor((v * s + 50) / 100))));
}

const COS = Array.from({ length: 64 }, (_, i) => {
  const u = i >> 3;
  const x = i & 7;
  return (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * 0.5;
});

/** Forward DCT of an 8x8 block (level-shifted samples), quantized, in natural order. */
function fdctQuant(block: Float64Array, q: number[], out: Int32Array): void {
  const tmp = new Float64Array(64);
  for (let y = 0; y < 8; y++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let x = 0; x < 8; x++) s += COS[u * 8 + x] * block[y * 8 + x];
      tmp[y * 8 + u] = s;
    }
  }
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < 8; y++) s += COS[v * 8 + y] * tmp[y * 8 + u];
      out[v * 8 + u] = Math.round(s / q[v * 8 + u]);
    }
  }
}

/** libjpeg's jpeg_gen_optimal_table: code lengths (max 16) from symbol frequencies. */
function optimalTable(freq: number[]): { bits: number[]; vals: number[] } {
  const f = [...freq, 1]; // reserved symbol 256: no code is all ones
  const size = new Array(257).fill(0);
  const others = new Array(257).fill(-1);
  for (;;) {
    let c1 = -1;
    let c2 = -1;
    let v = 1e18;
    for (let i = 0; i <= 256; i++) if (f[i] && f[i] <= v) [v, c1] = [f[i], i];
    v = 1e18;
    for (let i = 0; i <= 256; i++) if (f[i] && f[i] <= v && i !== c1) [v, c2] = [f[i], i];
    if (c2 < 0) break;
    f[c1] += f[c2];
    f[c2] = 0;
    size[c1]++;
    while (others[c1] >= 0) {
      c1 = others[c1];
      size[c1]++;
    }
    others[c1] = c2;
    size[c2]++;
    while (others[c2] >= 0) {
      c2 = others[c2];
      size[c2]++;
    }
  }
  const bits = new Array(33).fill(0);
  for (let i = 0; i <= 256; i++) if (size[i]) bits[size[i]]++;
  for (let i = 32; i > 16; i--) {
    while (bits[i] > 0) {
      let j = i - 2;
      while (bits[j] === 0) j--;
      bits[i] -= 2;
      bits[i - 1]++;
      bits[j + 1] += 2;
      bits[j]--;
    }
  }
  let i = 16;
  while (bits[i] === 0) i--;
  bits[i]--; // drop the reserved symbol
  const vals: number[] = [];
  for (let len = 1; len <= 32; len++) for (let s = 0; s < 256; s++) if (size[s] === len) vals.push(s);
  return { bits: bits.slice(1, 17), vals };
}

interface Code {
  code: number[];
  len: number[];
}
function codes(t: { bits: number[]; vals: number[] }): Code {
  const code = new Array(256).fill(0);
  const len = new Array(256).fill(0);
  let c = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    for (let i = 0; i < t.bits[l - 1]; i++) {
      code[t.vals[k]] = c++;
      len[t.vals[k++]] = l;
    }
    c <<= 1;
  }
  return { code, len };
}

const category = (v: number): number => (v === 0 ? 0 : 32 - Math.clz32(Math.abs(v)));

/** Encodes RGB `[h, w, 3]` as a baseline JPEG (`subsample`: 4:2:0, else 4:4:4). */
export function encodeJpeg(
  rgb: Uint8Array,
  w: number,
  h: number,
  quality = 90,
  subsample = true,
): Uint8Array {
  const qs = [scaledTable(LUMA_Q, quality), scaledTable(CHROMA_Q, quality)];
  const f = subsample ? 2 : 1;
  const mw = Math.ceil(w / (8 * f));
  const mh = Math.ceil(h / (8 * f));
  // Planes: Y at full size, chroma averaged over f x f (edges replicated).
  const px = (x: number, y: number, k: number) => rgb[(Math.min(y, h - 1) * w + Math.min(x, w - 1)) * 3 + k];
  const yv = (x: number, y: number) => 0.299 * px(x, y, 0) + 0.587 * px(x, y, 1) + 0.114 * px(x, y, 2);
  const cb = (x: number, y: number) =>
    -0.168736 * px(x, y, 0) - 0.331264 * px(x, y, 1) + 0.5 * px(x, y, 2) + 128;
  const cr = (x: number, y: number) =>
    0.5 * px(x, y, 0) - 0.418688 * px(x, y, 1) - 0.081312 * px(x, y, 2) + 128;
  const blocks: Array<{ comp: number; coef: Int32Array }> = [];
  const blk = new Float64Array(64);
  for (let my = 0; my < mh; my++) {
    for (let mx = 0; mx < mw; mx++) {
      for (let by = 0; by < f; by++) {
        for (let bx = 0; bx < f; bx++) {
          const x0 = (mx * f + bx) * 8;
          const y0 = (my * f + by) * 8;
          for (let i = 0; i < 64; i++) blk[i] = yv(x0 + (i & 7), y0 + (i >> 3)) - 128;
          const coef = new Int32Array(64);
          fdctQuant(blk, qs[0], coef);
          blocks.push({ comp: 0, coef });
        }
      }
      for (const [ci, fn] of [
        [1, cb],
        [2, cr],
      ] as const) {
        for (let i = 0; i < 64; i++) {
          let s = 0;
          for (let dy = 0; dy < f; dy++) {
            for (let dx = 0; dx < f; dx++) {
              s += fn(mx * 8 * f + (i & 7) * f + dx, my * 8 * f + (i >> 3) * f + dy);
            }
          }
          blk[i] = s / (f * f) - 128;
        }
        const coef = new Int32Array(64);
        fdctQuant(blk, qs[1], coef);
        blocks.push({ comp: ci, coef });
      }
    }
  }
  // Symbols per block, then optimal tables (DC / AC, luma / chroma), then the bitstream.
  type Sym = { table: number; sym: number; extra: number; nbits: number };
  const syms: Sym[] = [];
  const pred = [0, 0, 0];
  for (const b of blocks) {
    const t = b.comp === 0 ? 0 : 1;
    const diff = b.coef[0] - pred[b.comp];
    pred[b.comp] = b.coef[0];
    const s = category(diff);
    syms.push({ table: t, sym: s, extra: diff < 0 ? diff + (1 << s) - 1 : diff, nbits: s });
    let run = 0;
    for (let k = 1; k < 64; k++) {
      const v = b.coef[ZIGZAG[k]];
      if (v === 0) {
        run++;
        continue;
      }
      while (run > 15) {
        syms.push({ table: t + 2, sym: 0xf0, extra: 0, nbits: 0 });
        run -= 16;
      }
      const c = category(v);
      syms.push({ table: t + 2, sym: (run << 4) | c, extra: v < 0 ? v + (1 << c) - 1 : v, nbits: c });
      run = 0;
    }
    if (run > 0) syms.push({ table: t + 2, sym: 0, extra: 0, nbits: 0 });
  }
  const freq = [0, 1, 2, 3].map(() => new Array(256).fill(0));
  for (const s of syms) freq[s.table][s.sym]++;
  const tables = freq.map(optimalTable);
  const cs = tables.map(codes);
  const out: number[] = [];
  const u16 = (v: number) => out.push(v >> 8, v & 255);
  const seg = (m: number, body: number[]) => {
    out.push(0xff, m);
    u16(body.length + 2);
    out.push(...body);
  };
  out.push(0xff, 0xd8);
  seg(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  seg(0xdb, [0, ...ZIGZAG.map((z) => qs[0][z]), 1, ...ZIGZAG.map((z) => qs[1][z])]);
  const samp = subsample ? 0x22 : 0x11;
  seg(0xc0, [8, h >> 8, h & 255, w >> 8, w & 255, 3, 1, samp, 0, 2, 0x11, 1, 3, 0x11, 1]);
  const dht: number[] = [];
  for (const [i, spec] of [0x00, 0x01, 0x10, 0x11].entries()) {
    const t = tables[[0, 1, 2, 3][i]];
    dht.push(spec, ...t.bits, ...t.vals);
  }
  seg(0xc4, dht);
  seg(0xda, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
  let acc = 0;
  let n = 0;
  const put = (v: number, bits: number) => {
    for (let i = bits - 1; i >= 0; i--) {
      acc = (acc << 1) | ((v >> i) & 1);
      if (++n === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0);
        acc = 0;
        n = 0;
      }
    }
  };
  for (const s of syms) {
    const c = cs[s.table];
    put(c.code[s.sym], c.len[s.sym]);
    if (s.nbits) put(s.extra, s.nbits);
  }
  if (n > 0) put(0x7f, 8 - n);
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}
