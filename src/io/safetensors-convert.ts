import { ArgumentError, DTypeError, fmtShape } from '../tensor/errors.js';
import { WeightsFormatError } from './errors.js';
import { DTYPE_BITS, elementCount, q, type SafetensorsEntry } from './safetensors.js';

/** safetensors entries as Float32Array / Int32Array (every dtype the format knows, little-endian). */

/** @internal True on little-endian hosts (typed arrays then match the file bytes). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
