/**
 * safetensors (https://github.com/huggingface/safetensors) parsing and writing, in plain TypeScript.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{ "__metadata__": {str: str}, name: { dtype, shape, data_offsets: [begin, end] }, ... }`, then the
 * data section; offsets are relative to its start. Files come from strangers, so the parser checks
 * everything the reference implementation checks (and duplicate keys, which it leaves to serde) and
 * turns every problem into a `WeightsFormatError`; it never allocates more than the input's size.
 */
import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { WeightsFormatError } from './errors.js';

/** The reference implementation's limit: a bigger header is refused before it is decoded. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of every dtype the reference implementation knows. */
// biome-ignore format: a table
const DTYPE_BITS = new Map<string, number>([
  ['BOOL', 8], ['U8', 8], ['I8', 8], ['F8_E5M2', 8], ['F8_E4M3', 8], ['F8_E8M0', 8],
  ['I16', 16], ['U16', 16], ['F16', 16], ['BF16', 16],
  ['I32', 32], ['U32', 32], ['F32', 32],
  ['I64', 64], ['U64', 64], ['F64', 64], ['C64', 64],
  ['F4', 4], ['F6_E2M3', 6], ['F6_E3M2', 6],
]);

/** One tensor of a parsed file. `data` is a view into the parsed bytes (no copy, maybe unaligned). */
export interface SafetensorsEntry {
  name?: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

export interface ParsedSafetensors {
  /** The `__metadata__` strings (a null-prototype object: keys such as `constructor` are safe). */
  metadata: Record<string, string>;
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsEntry>;
}

export interface ParseOptions {
  /** Refuse headers longer than this many bytes (default 100,000,000, as the reference). */
  maxHeaderBytes?: number;
  /** Named in error messages (e.g. the file path). */
  source?: string;
}

type Fail = (message: string) => WeightsFormatError;

function failer(source: string | undefined): Fail {
  const where = source ? `safetensors: ${source}:` : 'safetensors:';
  return (message) => new WeightsFormatError(`${where} ${message}`);
}

/** Quotes a (possibly hostile, possibly huge) name for a message. */
function q(name: string): string {
  return JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name);
}

/** Describes a value for a message; never recurses (a hostile header can nest 10^5 deep). */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) {
    const flat = v.length <= 4 && v.every((x) => x === null || typeof x !== 'object');
    return flat ? JSON.stringify(v) : `an array of ${v.length}`;
  }
  if (typeof v === 'object' && v !== null) return 'an object';
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Reads and checks the header length from the first 8 bytes of a file of `totalBytes` bytes; the
 * caller can refuse a file before reading (or allocating) the rest of it.
 */
export function safetensorsHeaderLength(
  first8: Uint8Array,
  totalBytes: number,
  opts: ParseOptions = {},
): number {
  const fail = failer(opts.source);
  const max = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!isIndex(max)) {
    throw new ArgumentError(
      `parseSafetensors: maxHeaderBytes must be a non-negative integer, got ${show(max)}`,
    );
  }
  if (totalBytes < 8 || first8.length < 8) {
    throw fail(`file is ${totalBytes} bytes, shorter than the 8-byte header length`);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(max)) {
    throw fail(`header length ${n} bytes exceeds the limit of ${max} bytes (maxHeaderBytes)`);
  }
  if (n + 8n > BigInt(totalBytes)) {
    throw fail(`header length ${n} bytes runs past the end of the file (${totalBytes} bytes)`);
  }
  return Number(n);
}

/** Parses and validates a whole safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array, opts: ParseOptions = {}): ParsedSafetensors {
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`parseSafetensors: bytes must be a Uint8Array, got ${show(bytes)}`);
  }
  const fail = failer(opts.source);
  const headerLen = safetensorsHeaderLength(bytes, bytes.length, opts);
  const dataStart = 8 + headerLen;
  const dataLength = bytes.length - dataStart;

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`header is not valid JSON (${String((e as Error).message).slice(0, 120)})`);
  }
  if (!isRecord(header)) {
    throw fail(`header must be a JSON object, got ${Array.isArray(header) ? 'an array' : show(header)}`);
  }
  const names = scanKeys(text, fail);

  const metadata = Object.create(null) as Record<string, string>;
  if (Object.hasOwn(header, '__metadata__')) {
    const m = header['__metadata__'];
    if (!isRecord(m)) throw fail(`__metadata__ must be an object of strings, got ${show(m)}`);
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== 'string') throw fail(`__metadata__ ${q(k)} must be a string, got ${show(v)}`);
      metadata[k] = v;
    }
  }

  const infos: Info[] = [];
  for (const name of names) {
    if (name !== '__metadata__') infos.push(checkEntry(name, header[name], dataLength, fail));
  }
  checkLayout(infos, dataLength, fail);

  const tensors = new Map<string, SafetensorsEntry>();
  for (const t of infos) {
    const data = bytes.subarray(dataStart + t.begin, dataStart + t.end);
    tensors.set(t.name, { name: t.name, dtype: t.dtype, shape: t.shape, data });
  }
  return { metadata, tensors };
}

interface Info {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function checkEntry(name: string, info: unknown, dataLength: number, fail: Fail): Info {
  const where = `tensor ${q(name)}:`;
  if (!isRecord(info)) {
    throw fail(`${where} entry must be an object with dtype, shape and data_offsets, got ${show(info)}`);
  }
  const { dtype, shape, data_offsets: offsets } = info;
  if (typeof dtype !== 'string') throw fail(`${where} dtype must be a string, got ${show(dtype)}`);
  const bits = DTYPE_BITS.get(dtype);
  if (bits === undefined) {
    throw fail(`${where} unknown dtype ${q(dtype)} (known: ${[...DTYPE_BITS.keys()].join(', ')})`);
  }
  if (!Array.isArray(shape)) {
    throw fail(`${where} shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  shape.forEach((d, i) => {
    if (!isIndex(d)) throw fail(`${where} shape[${i}] must be a non-negative integer, got ${show(d)}`);
  });
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isIndex(offsets[0]) || !isIndex(offsets[1])) {
    throw fail(`${where} data_offsets must be [begin, end] with non-negative integers, got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const span = `data_offsets [${begin},${end}]`;
  if (begin > end) throw fail(`${where} ${span} has begin > end`);
  if (end > dataLength) {
    throw fail(`${where} ${span} run past the end of the data section (${dataLength} bytes)`);
  }
  const dims = shape.map((d: number) => d + 0); // JSON "-0" becomes 0
  const nbits = elementCount(dims) * bits;
  if (!Number.isSafeInteger(nbits)) throw fail(`${where} shape ${fmtShape(dims)} has too many elements`);
  if (nbits % 8 !== 0) {
    throw fail(`${where} shape ${fmtShape(dims)} of ${dtype} (${bits} bits) does not fill whole bytes`);
  }
  if (nbits / 8 !== end - begin) {
    throw fail(
      `${where} shape ${fmtShape(dims)} of ${dtype} needs ${nbits / 8} bytes, but ${span} hold ${end - begin}`,
    );
  }
  return { name, dtype, shape: dims, begin, end };
}

/** The element count, or Infinity past 2^53 (a hostile shape must not wrap around). */
function elementCount(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Number.POSITIVE_INFINITY;
  }
  return n;
}

/** Like the reference: sorted by offsets, tensors must tile the data section exactly. */
function checkLayout(infos: Info[], dataLength: number, fail: Fail): void {
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Info | undefined;
  for (const t of sorted) {
    const span = `data_offsets [${t.begin},${t.end}]`;
    if (prev && t.begin < pos) {
      throw fail(`tensor ${q(t.name)}: ${span} overlap tensor ${q(prev.name)} [${prev.begin},${prev.end}]`);
    }
    if (t.begin > pos) {
      throw fail(`tensor ${q(t.name)}: ${span} leave a gap: bytes [${pos},${t.begin}) belong to no tensor`);
    }
    pos = t.end;
    prev = t;
  }
  if (pos !== dataLength) {
    const after = prev ? `after tensor ${q(prev.name)}` : 'with no tensors';
    throw fail(`the last ${dataLength - pos} bytes of the data section (${after}) belong to no tensor`);
  }
}

/**
 * Returns the top-level keys of already-validated JSON text in file order, and rejects duplicate
 * keys at any depth (JSON.parse keeps the last silently; other parsers keep the first, so a file
 * could mean two things). Iterative: deep nesting cannot overflow the stack.
 */
function scanKeys(text: string, fail: Fail): string[] {
  const top: string[] = [];
  const stack: (Set<string> | null)[] = [];
  let tensor = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b) stack.push(new Set());
    else if (c === 0x5b) stack.push(null);
    else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x22) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const keys = stack[stack.length - 1];
      let k = j + 1;
      while (k < text.length && ' \t\n\r'.includes(text[k])) k++;
      if (keys && text.charCodeAt(k) === 0x3a) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) {
          throw fail(
            stack.length === 1
              ? `tensor ${q(key)}: name appears twice in the header`
              : `${tensor === '__metadata__' ? tensor : `tensor ${q(tensor)}`}: key ${q(key)} appears twice`,
          );
        }
        keys.add(key);
        if (stack.length === 1) top.push((tensor = key));
      }
      i = j;
    }
  }
  return top;
}

// ---------------------------------------------------------------------------------------------
// Conversions

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Checks a (possibly hand-made) entry and returns its element count. */
function entryCount(entry: SafetensorsEntry, fn: string): number {
  if (
    entry === null ||
    typeof entry !== 'object' ||
    !(entry.data instanceof Uint8Array) ||
    !Array.isArray(entry.shape)
  ) {
    throw new ArgumentError(
      `${fn}: entry must be a safetensors entry { dtype, shape, data: Uint8Array }, got ${entry === null ? 'null' : typeof entry}`,
    );
  }
  const name = q(entry.name ?? '');
  const bits = DTYPE_BITS.get(entry.dtype);
  if (bits === undefined) {
    throw new DTypeError(`${fn}: tensor ${name} has unknown dtype ${q(String(entry.dtype))}`);
  }
  const n = elementCount(entry.shape);
  if (n * bits !== entry.data.byteLength * 8) {
    throw new WeightsFormatError(
      `${fn}: tensor ${name}: shape ${fmtShape(entry.shape)} of ${entry.dtype} does not match its ${entry.data.byteLength} bytes`,
    );
  }
  return n;
}

/** The bytes as little-endian elements of `bpe` bytes: a view when aligned, else an aligned copy. */
function elems<T>(
  data: Uint8Array,
  bpe: number,
  make: (b: ArrayBufferLike, off: number, len: number) => T,
): T {
  const len = data.byteLength / bpe;
  if (LITTLE_ENDIAN && data.byteOffset % bpe === 0) return make(data.buffer, data.byteOffset, len);
  const copy = data.slice();
  if (!LITTLE_ENDIAN) for (let i = 0; i < copy.length; i += bpe) copy.subarray(i, i + bpe).reverse();
  return make(copy.buffer, 0, len);
}

const u16 = (d: Uint8Array) => elems(d, 2, (b, o, l) => new Uint16Array(b, o, l));

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** OCP FP8 E4M3 ("fn": no infinities, S.1111.111 is NaN). */
function e4m3ToFloat(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return Number.NaN;
  return e === 0 ? s * m * 2 ** -9 : s * (1 + m / 8) * 2 ** (e - 7);
}

function mapBytes(src: ArrayLike<number>, f: (v: number) => number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
  return out;
}

/** Converts any real-valued dtype to a new Float32Array (F64 and 64-bit integers round). */
export function toFloat32(entry: SafetensorsEntry): Float32Array {
  const n = entryCount(entry, 'toFloat32');
  const d = entry.data;
  switch (entry.dtype) {
    case 'F32':
      return new Float32Array(elems(d, 4, (b, o, l) => new Float32Array(b, o, l)));
    case 'F64':
      return new Float32Array(elems(d, 8, (b, o, l) => new Float64Array(b, o, l)));
    case 'F16':
      return mapBytes(u16(d), halfToFloat);
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      const src = u16(d);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'F8_E5M2':
      return mapBytes(d, (b) => halfToFloat(b << 8));
    case 'F8_E4M3':
      return mapBytes(d, e4m3ToFloat);
    case 'F8_E8M0':
      return mapBytes(d, (b) => (b === 255 ? Number.NaN : 2 ** (b - 127)));
    case 'I64':
    case 'U64': {
      const src = elems(d, 8, (b, o, l) =>
        entry.dtype === 'I64' ? new BigInt64Array(b, o, l) : new BigUint64Array(b, o, l),
      );
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'BOOL':
      return mapBytes(d, (b) => (b ? 1 : 0));
    default:
      return new Float32Array(intView(entry, 'toFloat32'));
  }
}

/** The integer dtypes of at most 32 bits as a typed array (a view when possible). */
function intView(entry: SafetensorsEntry, fn: string): ArrayLike<number> {
  const d = entry.data;
  switch (entry.dtype) {
    case 'U8':
      return d;
    case 'I8':
      return new Int8Array(d.buffer, d.byteOffset, d.byteLength);
    case 'I16':
      return elems(d, 2, (b, o, l) => new Int16Array(b, o, l));
    case 'U16':
      return u16(d);
    case 'I32':
      return elems(d, 4, (b, o, l) => new Int32Array(b, o, l));
    case 'U32':
      return elems(d, 4, (b, o, l) => new Uint32Array(b, o, l));
    default:
      throw new DTypeError(
        `${fn}: tensor ${q(entry.name ?? '')} has dtype ${entry.dtype}, which cannot be converted (${fn === 'toInt32' ? 'use toFloat32 for floating-point dtypes' : 'complex and 4/6-bit dtypes are not supported'})`,
      );
  }
}

/** Converts an integer or BOOL dtype to a new Int32Array; values outside int32 throw. */
export function toInt32(entry: SafetensorsEntry): Int32Array {
  const n = entryCount(entry, 'toInt32');
  const out = new Int32Array(n);
  const d = entry.data;
  if (entry.dtype === 'BOOL') {
    for (let i = 0; i < n; i++) out[i] = d[i] ? 1 : 0;
    return out;
  }
  const src: ArrayLike<number | bigint> =
    entry.dtype === 'I64'
      ? elems(d, 8, (b, o, l) => new BigInt64Array(b, o, l))
      : entry.dtype === 'U64'
        ? elems(d, 8, (b, o, l) => new BigUint64Array(b, o, l))
        : intView(entry, 'toInt32');
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (v < -2147483648 || v > 2147483647) {
      throw new WeightsFormatError(
        `toInt32: tensor ${q(entry.name ?? '')} (${entry.dtype}) element ${i} is ${v}, outside the int32 range`,
      );
    }
    out[i] = Number(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

export type SerializableDType = 'F32' | 'I32' | 'BOOL';

export interface SerializableTensor {
  name: string;
  dtype: SerializableDType;
  shape: readonly number[];
  /** Float32Array for F32, Int32Array for I32, Uint8Array of 0/1 for BOOL. */
  data: Float32Array | Int32Array | Uint8Array;
}

const ARRAY_FOR: Record<SerializableDType, { is: (d: unknown) => boolean; label: string }> = {
  F32: { is: (d) => d instanceof Float32Array, label: 'Float32Array' },
  I32: { is: (d) => d instanceof Int32Array, label: 'Int32Array' },
  BOOL: { is: (d) => d instanceof Uint8Array, label: 'Uint8Array' },
};

/**
 * Serializes tensors to safetensors bytes. Deterministic: header keys and data keep the order of
 * `tensors` (the reference sorts by dtype and name; any order is valid since offsets are explicit),
 * `__metadata__` comes first, and the header is padded with spaces to a multiple of 8 bytes so the
 * data section is 8-byte aligned.
 */
export function serializeSafetensors(
  tensors: readonly SerializableTensor[],
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const fn = 'serializeSafetensors';
  if (!Array.isArray(tensors as unknown)) {
    throw new ArgumentError(`${fn}: tensors must be an array, got ${show(tensors)}`);
  }
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isRecord(metadata)) {
      throw new ArgumentError(`${fn}: metadata must be an object of strings, got ${show(metadata)}`);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new ArgumentError(`${fn}: metadata ${q(k)} must be a string, got ${show(v)}`);
      }
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    const name = t?.name;
    if (typeof name !== 'string' || name === '__metadata__' || seen.has(name)) {
      const why =
        typeof name !== 'string'
          ? 'must be a string'
          : name === '__metadata__'
            ? 'is reserved'
            : 'is used twice';
      throw new ArgumentError(`${fn}: tensor name ${show(name)} ${why}`);
    }
    seen.add(name);
    const want = Object.hasOwn(ARRAY_FOR, t.dtype) ? ARRAY_FOR[t.dtype] : undefined;
    if (!want) {
      throw new DTypeError(`${fn}: tensor ${q(name)}: dtype must be F32, I32 or BOOL, got ${show(t.dtype)}`);
    }
    if (!want.is(t.data)) {
      throw new DTypeError(
        `${fn}: tensor ${q(name)}: ${t.dtype} data must be a ${want.label}, got ${t.data?.constructor?.name}`,
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
      throw new ShapeError(
        `${fn}: tensor ${q(name)}: shape must be an array of non-negative integers, got ${show(t.shape)}`,
      );
    }
    if (elementCount(t.shape) !== t.data.length) {
      throw new ShapeError(
        `${fn}: tensor ${q(name)}: shape ${fmtShape(t.shape)} needs ${elementCount(t.shape)} values, got ${t.data.length}`,
      );
    }
    if (t.dtype === 'BOOL' && t.data.some((v) => v > 1)) {
      throw new ArgumentError(`${fn}: tensor ${q(name)}: BOOL data must be 0 or 1`);
    }
    const end = offset + t.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] })}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const t of tensors) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, pos);
    if (!LITTLE_ENDIAN && t.data.BYTES_PER_ELEMENT > 1) {
      for (let i = pos; i < pos + bytes.length; i += 4) out.subarray(i, i + 4).reverse();
    }
    pos += bytes.length;
  }
  return out;
}
