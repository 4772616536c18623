import {
  buildHuffmanTable,
  decodeScan,
  type HuffmanTable,
  JpegDataError,
  type ScanComponent,
  ZIGZAG,
} from './huffman.js';

/**
 * The JPEG marker parser: reads every segment (DQT, DHT, SOF0/1/2, SOS, DRI, APP0/APP1/APP14)
 * and runs the entropy decoder on each scan, leaving the quantized coefficients of the whole
 * image in its components. Only 8-bit Huffman-coded baseline / extended / progressive frames
 * are accepted (what libjpeg-turbo decodes into 8-bit samples).
 */

/** One colour component after all scans. */
export interface FrameComponent extends ScanComponent {
  id: number;
  /** Quantization table in natural order (latched when the component's first scan starts). */
  qt: Uint16Array;
  /** Which quantization table the frame header names. */
  tq: number;
  /** Samples per row / rows of this component (libjpeg's downsampled_width / _height). */
  width: number;
  height: number;
}

export interface JpegFrame {
  width: number;
  height: number;
  progressive: boolean;
  maxH: number;
  maxV: number;
  components: FrameComponent[];
  /** A JFIF APP0 segment was seen. */
  jfif: boolean;
  /** The Adobe APP14 transform flag (0 none, 1 YCbCr, 2 YCCK), or -1 without an Adobe segment. */
  adobeTransform: number;
  /** The APP1 Exif payload (after `Exif\0\0`), if any. */
  exif: Uint8Array | null;
}

const be16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

function startsWith(b: Uint8Array, s: string): boolean {
  if (b.length < s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Parses `bytes` and decodes every scan. Throws JpegDataError on anything malformed. */
export function parseJpeg(bytes: Uint8Array, maxPixels: number): JpegFrame {
  const qts: Array<Uint16Array | undefined> = [];
  const dcTables: Array<HuffmanTable | undefined> = [];
  const acTables: Array<HuffmanTable | undefined> = [];
  let frame: JpegFrame | null = null;
  let restartInterval = 0;
  let jfif = false;
  let adobeTransform = -1;
  let exif: Uint8Array | null = null;
  let scans = 0;
  let pos = 2;
  const n = bytes.length;
  for (;;) {
    // Find the next marker (skipping fill bytes and, as libjpeg does, stray garbage between segments).
    while (pos < n && bytes[pos] !== 0xff) pos++;
    while (pos < n && bytes[pos] === 0xff) pos++;
    if (pos >= n) throw new JpegDataError('truncated: the file ends before the end-of-image marker');
    const m = bytes[pos++];
    if (m === 0xd9) break;
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue;
    if (pos + 2 > n) throw new JpegDataError('truncated inside a segment length');
    const len = be16(bytes, pos);
    const name = `0xff${m.toString(16).padStart(2, '0')}`;
    if (len < 2) throw new JpegDataError(`segment ${name} has a bad length ${len}`);
    if (pos + len > n) throw new JpegDataError(`truncated: the file ends inside segment ${name}`);
    const seg = bytes.subarray(pos + 2, pos + len);
    pos += len;
    if (m === 0xdb) readDqt(seg, qts);
    else if (m === 0xc4) readDht(seg, dcTables, acTables);
    else if (m === 0xdd) {
      if (seg.length < 2) throw new JpegDataError('DRI segment too short');
      restartInterval = be16(seg, 0);
    } else if (m === 0xe0 && startsWith(seg, 'JFIF\0')) jfif = true;
    else if (m === 0xe1 && startsWith(seg, 'Exif\0') && exif === null) exif = seg.subarray(6);
    else if (m === 0xee && startsWith(seg, 'Adobe') && seg.length >= 12) adobeTransform = seg[11];
    else if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (frame) throw new JpegDataError('more than one frame header (SOF)');
      if (m > 0xc2) throw new JpegDataError(`unsupported frame type SOF${m - 0xc0}`);
      frame = readSof(seg, m === 0xc2, maxPixels);
    } else if (m === 0xda) {
      if (!frame) throw new JpegDataError('scan data before the frame header (SOF)');
      pos = readSos(bytes, seg, pos, frame, qts, dcTables, acTables, restartInterval);
      scans++;
    }
  }
  if (!frame) throw new JpegDataError('no frame header (SOF)');
  if (scans === 0) throw new JpegDataError('no scan data (SOS)');
  frame.jfif = jfif;
  frame.adobeTransform = adobeTransform;
  frame.exif = exif;
  return frame;
}

function readDqt(seg: Uint8Array, qts: Array<Uint16Array | undefined>): void {
  let o = 0;
  while (o < seg.length) {
    const spec = seg[o++];
    const wide = spec >> 4;
    if (wide > 1 || (spec & 15) > 3) throw new JpegDataError(`DQT: bad table spec 0x${spec.toString(16)}`);
    if (o + 64 * (wide + 1) > seg.length) throw new JpegDataError('DQT segment too short');
    const t = new Uint16Array(64);
    for (let k = 0; k < 64; k++) {
      t[ZIGZAG[k]] = wide ? be16(seg, o + 2 * k) : seg[o + k];
    }
    o += 64 * (wide + 1);
    qts[spec & 15] = t;
  }
}

function readDht(
  seg: Uint8Array,
  dc: Array<HuffmanTable | undefined>,
  ac: Array<HuffmanTable | undefined>,
): void {
  let o = 0;
  while (o < seg.length) {
    const spec = seg[o++];
    if (o + 16 > seg.length || (spec & 15) > 3 || spec >> 4 > 1) throw new JpegDataError('bad DHT segment');
    const counts = seg.subarray(o, o + 16);
    o += 16;
    let total = 0;
    for (const c of counts) total += c;
    if (total > 256 || o + total > seg.length) throw new JpegDataError('DHT segment too short');
    const table = buildHuffmanTable(counts, seg.slice(o, o + total));
    o += total;
    (spec >> 4 ? ac : dc)[spec & 15] = table;
  }
}

function readSof(seg: Uint8Array, progressive: boolean, maxPixels: number): JpegFrame {
  if (seg.length < 6) throw new JpegDataError('frame header too short');
  if (seg[0] !== 8) throw new JpegDataError(`unsupported sample precision ${seg[0]} bits (only 8)`);
  const height = be16(seg, 1);
  const width = be16(seg, 3);
  const nc = seg[5];
  if (width === 0 || height === 0) throw new JpegDataError(`the frame header gives size ${width}x${height}`);
  if (width * height > maxPixels)
    throw new JpegDataError(`${width}x${height} is over maxPixels = ${maxPixels}`);
  if (nc !== 1 && nc !== 3 && nc !== 4) throw new JpegDataError(`unsupported number of components ${nc}`);
  if (seg.length < 6 + 3 * nc) throw new JpegDataError('frame header too short');
  let maxH = 1;
  let maxV = 1;
  const raw: Array<{ id: number; h: number; v: number; tq: number }> = [];
  for (let i = 0; i < nc; i++) {
    const o = 6 + 3 * i;
    const h = seg[o + 1] >> 4;
    const v = seg[o + 1] & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) throw new JpegDataError(`bad sampling factors ${h}x${v}`);
    raw.push({ id: seg[o], h, v, tq: seg[o + 2] & 3 });
    maxH = Math.max(maxH, h);
    maxV = Math.max(maxV, v);
  }
  const mcusW = Math.ceil(width / (8 * maxH));
  const mcusH = Math.ceil(height / (8 * maxV));
  const components = raw.map(({ id, h, v, tq }): FrameComponent => {
    const cw = Math.ceil((width * h) / maxH);
    const ch = Math.ceil((height * v) / maxV);
    const allocW = mcusW * h;
    const allocH = mcusH * v;
    return {
      id,
      h,
      v,
      // The table is looked up when the first scan starts (DQT may follow SOF); see readSos.
      qt: new Uint16Array(0),
      tq,
      width: cw,
      height: ch,
      blocksW: Math.ceil(cw / 8),
      blocksH: Math.ceil(ch / 8),
      allocW,
      allocH,
      coefs: new Int16Array(allocW * allocH * 64),
      dcTable: undefined,
      acTable: undefined,
      pred: 0,
    };
  });
  return {
    width,
    height,
    progressive,
    maxH,
    maxV,
    components,
    jfif: false,
    adobeTransform: -1,
    exif: null,
  };
}

function readSos(
  bytes: Uint8Array,
  seg: Uint8Array,
  pos: number,
  frame: JpegFrame,
  qts: Array<Uint16Array | undefined>,
  dcTables: Array<HuffmanTable | undefined>,
  acTables: Array<HuffmanTable | undefined>,
  restartInterval: number,
): number {
  const ns = seg[0];
  if (ns < 1 || ns > 4 || seg.length < 1 + 2 * ns + 3) throw new JpegDataError('bad scan header (SOS)');
  const comps: FrameComponent[] = [];
  for (let i = 0; i < ns; i++) {
    const id = seg[1 + 2 * i];
    const c = frame.components.find((x) => x.id === id);
    if (!c) throw new JpegDataError(`a scan names component ${id}, which the frame does not have`);
    const t = seg[2 + 2 * i];
    c.dcTable = dcTables[t >> 4];
    c.acTable = acTables[t & 15];
    c.pred = 0;
    const q = qts[c.tq];
    if (!q) throw new JpegDataError(`component ${id} uses an undefined quantization table`);
    if (c.qt.length === 0) c.qt = q;
    comps.push(c);
  }
  const o = 1 + 2 * ns;
  const ss = seg[o];
  const se = seg[o + 1];
  const ah = seg[o + 2] >> 4;
  const al = seg[o + 2] & 15;
  if (frame.progressive) {
    if (ss > se || se > 63 || (ss === 0 && se !== 0) || (ss > 0 && ns !== 1) || al > 13) {
      throw new JpegDataError(`bad progressive scan parameters Ss=${ss} Se=${se} Ah=${ah} Al=${al}`);
    }
  }
  return decodeScan(bytes, pos, {
    components: comps,
    mcusW: Math.ceil(frame.width / (8 * frame.maxH)),
    mcusH: Math.ceil(frame.height / (8 * frame.maxV)),
    restartInterval,
    progressive: frame.progressive,
    ss: frame.progressive ? ss : 0,
    se: frame.progressive ? se : 63,
    ah,
    al,
  });
}
