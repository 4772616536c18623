/**
 * Entropy decoding of JPEG scans (ITU T.81 Annex F and G, Huffman only) into quantized DCT
 * coefficients, following libjpeg-turbo's jdhuff.c / jdphuff.c: baseline and progressive
 * (spectral selection and successive approximation), restart markers, EOB runs. Coefficients are
 * stored per component as one Int16Array of 64-value blocks in natural (row-major) order.
 */

/** Natural-order index of the k-th coefficient in zig-zag order. */
export const ZIGZAG = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
]);

/** A corrupt or truncated scan; the caller turns it into an ImageDecodeError. */
export class JpegDataError extends Error {}

const LOOKAHEAD = 9;

/** One Huffman table: a 9-bit lookahead table plus libjpeg's maxcode/valoffset for longer codes. */
export interface HuffmanTable {
  /** `(length << 8) | symbol` for codes of at most 9 bits, indexed by the next 9 bits; 0 if longer. */
  lookup: Uint16Array;
  /** Largest code of each length 1..16 (index = length), -1 when none. */
  maxcode: Int32Array;
  /** Symbol index = code + valoffset[length]. */
  valoffset: Int32Array;
  values: Uint8Array;
}

/** Builds a table from the 16 code-length counts and the symbols of a DHT segment. */
export function buildHuffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const lookup = new Uint16Array(1 << LOOKAHEAD);
  const maxcode = new Int32Array(18).fill(-1);
  const valoffset = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    valoffset[len] = k - code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (code >= 1 << len) throw new JpegDataError('bad Huffman table (code lengths overflow)');
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len;
        const base = code << shift;
        for (let j = 0; j < 1 << shift; j++) lookup[base + j] = (len << 8) | values[k];
      }
    }
    maxcode[len] = n > 0 ? code - 1 : -1;
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff; // sentinel: ends the search for corrupt data
  return { lookup, maxcode, valoffset, values };
}

/**
 * Bit reader over entropy-coded data: unstuffs 0xFF00, stops at markers (then feeds zeros, as
 * libjpeg does) and counts how many zero bits were invented past the end of the data.
 */
export class BitReader {
  pos: number;
  private buf = 0;
  private count = 0;
  /** True once a marker (or the end of the data) has been reached. */
  atMarker = false;
  /** Zero bits invented after reaching it. */
  private padBits = 0;
  private readonly data: Uint8Array;

  constructor(data: Uint8Array, pos: number) {
    this.data = data;
    this.pos = pos;
  }

  private fill(n: number): void {
    const d = this.data;
    while (this.count < n) {
      let byte = 0;
      if (this.atMarker) this.padBits += 8;
      else {
        if (this.pos >= d.length) {
          this.atMarker = true;
          this.padBits += 8;
        } else {
          byte = d[this.pos];
          if (byte === 0xff) {
            const next = d[this.pos + 1];
            if (next === 0) this.pos += 2;
            else {
              this.atMarker = true;
              this.padBits += 8;
              byte = 0;
            }
          } else this.pos++;
        }
      }
      this.buf = ((this.buf << 8) | byte) & 0xffffff;
      this.count += 8;
    }
  }

  bits(n: number): number {
    if (n === 0) return 0;
    if (this.count < n) this.fill(n);
    this.count -= n;
    return (this.buf >>> this.count) & ((1 << n) - 1);
  }

  bit(): number {
    if (this.count < 1) this.fill(1);
    this.count--;
    return (this.buf >>> this.count) & 1;
  }

  decode(t: HuffmanTable): number {
    if (this.count < 16) this.fill(16);
    const look = (this.buf >>> (this.count - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1);
    const e = t.lookup[look];
    if (e !== 0) {
      this.count -= e >> 8;
      return e & 0xff;
    }
    let len = LOOKAHEAD + 1;
    let code = (this.buf >>> (this.count - len)) & ((1 << len) - 1);
    while (code > t.maxcode[len]) {
      len++;
      if (len > 16) throw new JpegDataError('corrupt entropy-coded data (no Huffman code matches)');
      code = (this.buf >>> (this.count - len)) & ((1 << len) - 1);
    }
    this.count -= len;
    return t.values[(code + t.valoffset[len]) & 0xff];
  }

  /** `bits(s)` sign-extended as in F.2.2.1 (EXTEND). */
  extend(s: number): number {
    const v = this.bits(s);
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }

  /** True when bits past a marker (or the end of the data) were consumed: corrupt or truncated. */
  overran(): boolean {
    return this.count < this.padBits;
  }

  /** Discards buffered bits and expects a restart marker RSTn at the current position. */
  restart(): void {
    this.buf = 0;
    this.count = 0;
    this.padBits = 0;
    this.atMarker = false;
    const d = this.data;
    let p = this.pos;
    while (p < d.length && !(d[p] === 0xff && d[p + 1] >= 0xd0 && d[p + 1] <= 0xd7)) p++;
    if (p >= d.length) throw new JpegDataError('truncated: a restart marker is missing');
    this.pos = p + 2;
  }
}

/** One component of the frame, as the scan decoder needs it. */
export interface ScanComponent {
  h: number;
  v: number;
  /** Blocks per row / column actually covering the image (non-interleaved scans use these). */
  blocksW: number;
  blocksH: number;
  /** Blocks per row / column allocated (a whole number of MCUs). */
  allocW: number;
  allocH: number;
  coefs: Int16Array;
  dcTable: HuffmanTable | undefined;
  acTable: HuffmanTable | undefined;
  pred: number;
}

export interface ScanParams {
  components: ScanComponent[];
  mcusW: number;
  mcusH: number;
  restartInterval: number;
  progressive: boolean;
  ss: number;
  se: number;
  ah: number;
  al: number;
}

type BlockFn = (c: ScanComponent, off: number) => void;

/** Decodes one scan starting at `pos`; returns the position just after its entropy-coded data. */
export function decodeScan(data: Uint8Array, pos: number, p: ScanParams): number {
  const r = new BitReader(data, pos);
  const { ss, se, ah, al } = p;
  let eobrun = 0;
  const need = (t: HuffmanTable | undefined, kind: string): HuffmanTable => {
    if (!t) throw new JpegDataError(`a scan uses an undefined ${kind} Huffman table`);
    return t;
  };

  const baseline: BlockFn = (c, off) => {
    const co = c.coefs;
    const dc = need(c.dcTable, 'DC');
    const ac = need(c.acTable, 'AC');
    const t = r.decode(dc);
    c.pred += t === 0 ? 0 : r.extend(t);
    co[off] = c.pred;
    for (let k = 1; k < 64; k++) {
      const rs = r.decode(ac);
      const s = rs & 15;
      const run = rs >> 4;
      if (s === 0) {
        if (run !== 15) break;
        k += 15;
        continue;
      }
      k += run;
      if (k > 63) break;
      co[off + ZIGZAG[k]] = r.extend(s);
    }
  };
  const dcFirst: BlockFn = (c, off) => {
    const t = r.decode(need(c.dcTable, 'DC'));
    c.pred += t === 0 ? 0 : r.extend(t);
    c.coefs[off] = c.pred * (1 << al);
  };
  const dcRefine: BlockFn = (c, off) => {
    if (r.bit()) c.coefs[off] |= 1 << al;
  };
  const acFirst: BlockFn = (c, off) => {
    if (eobrun > 0) {
      eobrun--;
      return;
    }
    const ac = need(c.acTable, 'AC');
    for (let k = ss; k <= se; k++) {
      const rs = r.decode(ac);
      const s = rs & 15;
      const run = rs >> 4;
      if (s === 0) {
        if (run === 15) {
          k += 15;
          continue;
        }
        eobrun = (1 << run) - 1;
        if (run) eobrun += r.bits(run);
        break;
      }
      k += run;
      if (k > 63) break;
      c.coefs[off + ZIGZAG[k]] = r.extend(s) * (1 << al);
    }
  };
  const p1 = 1 << al;
  const m1 = -1 << al;
  const refineNonZero = (co: Int16Array, i: number): void => {
    if (r.bit() && (co[i] & p1) === 0) co[i] += co[i] >= 0 ? p1 : m1;
  };
  const acRefine: BlockFn = (c, off) => {
    const co = c.coefs;
    let k = ss;
    if (eobrun === 0) {
      const ac = need(c.acTable, 'AC');
      for (; k <= se; k++) {
        const rs = r.decode(ac);
        let s = rs & 15;
        let run = rs >> 4;
        if (s) {
          s = r.bit() ? p1 : m1;
        } else if (run !== 15) {
          eobrun = 1 << run;
          if (run) eobrun += r.bits(run);
          break;
        }
        while (k <= se) {
          const i = off + ZIGZAG[k];
          if (co[i] !== 0) refineNonZero(co, i);
          else if (--run < 0) break;
          k++;
        }
        if (s && k <= se) co[off + ZIGZAG[k]] = s;
      }
    }
    if (eobrun > 0) {
      for (; k <= se; k++) {
        const i = off + ZIGZAG[k];
        if (co[i] !== 0) refineNonZero(co, i);
      }
      eobrun--;
    }
  };

  let fn: BlockFn;
  if (!p.progressive) fn = baseline;
  else if (ss === 0) fn = ah === 0 ? dcFirst : dcRefine;
  else fn = ah === 0 ? acFirst : acRefine;

  const comps = p.components;
  const single = comps.length === 1;
  const total = single ? comps[0].blocksW * comps[0].blocksH : p.mcusW * p.mcusH;
  const interval = p.restartInterval || total;
  for (let unit = 0; unit < total; unit++) {
    if (unit > 0 && unit % interval === 0) {
      r.restart();
      eobrun = 0;
      for (const c of comps) c.pred = 0;
    }
    if (single) {
      const c = comps[0];
      const by = Math.floor(unit / c.blocksW);
      const bx = unit - by * c.blocksW;
      fn(c, (by * c.allocW + bx) * 64);
    } else {
      const my = Math.floor(unit / p.mcusW);
      const mx = unit - my * p.mcusW;
      for (const c of comps) {
        for (let v = 0; v < c.v; v++) {
          const row = (my * c.v + v) * c.allocW + mx * c.h;
          for (let h = 0; h < c.h; h++) fn(c, (row + h) * 64);
        }
      }
    }
    if (r.overran()) {
      const where = r.pos >= data.length ? 'the file ends' : 'a marker comes';
      throw new JpegDataError(`truncated or corrupt scan: ${where} before all of its blocks are decoded`);
    }
  }
  return r.pos;
}
