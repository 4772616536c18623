import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { elementCount, isIndex, isRecord, q, show } from './safetensors.js';
import { LITTLE_ENDIAN } from './safetensors-convert.js';

/** safetensors writing: tensors to the bytes of one file. */

/** The dtypes `serializeSafetensors` writes. */
export type SerializableDType = 'F32' | 'I32' | 'BOOL';

/** One tensor for `serializeSafetensors`, on the CPU. */
export interface SerializableTensor {
  /** Its name in the file. */
  name: string;
  /** Its safetensors dtype. */
  dtype: SerializableDType;
  /** Its shape. */
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
