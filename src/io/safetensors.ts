/**
 * safetensors (https://github.com/huggingface/safetensors) parsing, in plain TypeScript (conversions of
 * entries: safetensors-convert.ts; writing: safetensors-write.ts, both re-exported here).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{ "__metadata__": {str: str}, name: { dtype, shape, data_offsets: [begin, end] }, ... }`, then the
 * data section; offsets are relative to its start. Files come from strangers, so the parser checks
 * everything the reference implementation checks (and duplicate keys, which it leaves to serde) and
 * turns every problem into a `WeightsFormatError`; it never allocates more than the input's size.
 */
import { ArgumentError, fmtShape } from '../tensor/errors.js';
import { WeightsFormatError } from './errors.js';

/** The reference implementation's limit: a bigger header is refused before it is decoded. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of every dtype the reference implementation knows. */
// biome-ignore format: a table
/** @internal */
export const DTYPE_BITS = new Map<string, number>([
  ['BOOL', 8], ['U8', 8], ['I8', 8], ['F8_E5M2', 8], ['F8_E4M3', 8], ['F8_E8M0', 8],
  ['I16', 16], ['U16', 16], ['F16', 16], ['BF16', 16],
  ['I32', 32], ['U32', 32], ['F32', 32],
  ['I64', 64], ['U64', 64], ['F64', 64], ['C64', 64],
  ['F4', 4], ['F6_E2M3', 6], ['F6_E3M2', 6],
]);

/** One tensor of a parsed file. `data` is a view into the parsed bytes (no copy, maybe unaligned). */
export interface SafetensorsEntry {
  /** Its name in the file. */
  name?: string;
  /** The safetensors dtype (`F32`, `I64`, `BF16`...). */
  dtype: string;
  /** Its shape. */
  shape: number[];
  /** Its little-endian bytes. */
  data: Uint8Array;
}

/** A parsed safetensors file: metadata and tensors. */
export interface ParsedSafetensors {
  /** The `__metadata__` strings (a null-prototype object: keys such as `constructor` are safe). */
  metadata: Record<string, string>;
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsEntry>;
}

/** Options of `parseSafetensors`. */
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
/** @internal */
export function q(name: string): string {
  return JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name);
}

/** Describes a value for a message; never recurses (a hostile header can nest 10^5 deep). */
/** @internal */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) {
    const flat = v.length <= 4 && v.every((x) => x === null || typeof x !== 'object');
    return flat ? JSON.stringify(v) : `an array of ${v.length}`;
  }
  if (typeof v === 'object' && v !== null) return 'an object';
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

/** @internal */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** @internal */
export function isIndex(v: unknown): v is number {
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
/** @internal */
export function elementCount(shape: readonly number[]): number {
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

export { toFloat32, toInt32 } from './safetensors-convert.js';
export {
  type SerializableDType,
  type SerializableTensor,
  serializeSafetensors,
} from './safetensors-write.js';
