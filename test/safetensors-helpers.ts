/** Builders of raw safetensors files, for tests that need headers the serializer would never write. */

const enc = new TextEncoder();

/** A file with an arbitrary header (object, raw text or raw bytes) and data; `n` overrides the length field. */
export function rawFile(header: unknown, data: Uint8Array | number = 0, n?: bigint): Uint8Array {
  const h =
    header instanceof Uint8Array
      ? header
      : enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** A header entry: dtype, shape and data_offsets, unchecked (for malformed headers). */
export const T = (dtype: unknown, shape: unknown, offsets: unknown) => ({
  dtype,
  shape,
  data_offsets: offsets,
});
