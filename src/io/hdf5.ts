/**
 * Reading HDF5 (Keras `.h5` and the `model.weights.h5` inside `.keras`) with jsfive, a pure-JS
 * reader: no WebAssembly, about 80 KB minified in the browser bundle, enough for what h5py writes by
 * default (groups, contiguous or chunked datasets with gzip/shuffle, string attributes).
 */
import { Dataset, File, Group } from 'jsfive';
import { WeightsFormatError } from './errors.js';

/** A dataset read out: numbers as float32 (floats) or int32 (integers), with its shape. */
export interface H5Array {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** A group of an HDF5 file: child names, attributes, and access by path. */
export interface H5Node {
  readonly path: string;
  readonly isDataset: boolean;
  keys(): string[];
  attrs(): Record<string, unknown>;
  /** The child at `path` (slash-separated), or undefined. */
  child(path: string): H5Node | undefined;
  /** The dataset's values (throws on a group). */
  read(): H5Array;
}

function wrap(obj: Group | Dataset, path: string, source: string): H5Node {
  const isDataset = obj instanceof Dataset;
  return {
    path,
    isDataset,
    keys: () => (obj instanceof Group ? [...obj.keys] : []),
    attrs: () => obj.attrs,
    child(p: string): H5Node | undefined {
      if (!(obj instanceof Group)) return undefined;
      let cur: Group | Dataset = obj;
      for (const part of p.split('/').filter((s) => s !== '')) {
        if (!(cur instanceof Group) || !cur.keys.includes(part)) return undefined;
        cur = cur.get(part);
      }
      return wrap(cur, `${path}/${p}`.replace(/^\/+/, '/'), source);
    },
    read(): H5Array {
      if (!(obj instanceof Dataset)) throw new WeightsFormatError(`hdf5: ${source}: ${path} is a group`);
      const dt = typeof obj.dtype === 'string' ? obj.dtype : '';
      const m = /^[<>|]?([fiu])(\d)$/.exec(dt);
      if (!m) throw new WeightsFormatError(`hdf5: ${source}: ${path} has dtype ${JSON.stringify(obj.dtype)}`);
      const values = obj.value as ArrayLike<number>;
      const shape = [...obj.shape];
      const n = shape.reduce((a, b) => a * b, 1);
      if (values.length !== n) {
        throw new WeightsFormatError(
          `hdf5: ${source}: ${path} holds ${values.length} values for shape [${shape.join(',')}]`,
        );
      }
      return m[1] === 'f'
        ? { shape, dtype: 'float32', data: Float32Array.from(values) }
        : { shape, dtype: 'int32', data: Int32Array.from(values) };
    },
  };
}

/** Parses an HDF5 file held in memory. Errors name `source`. */
export function readHdf5(bytes: Uint8Array, source: string): H5Node {
  if (bytes.length < 8 || bytes[1] !== 0x48 || bytes[2] !== 0x44 || bytes[3] !== 0x46)
    throw new WeightsFormatError(`hdf5: ${source} is not an HDF5 file (no HDF5 signature)`);
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let file: File;
  try {
    file = new File(buf, source);
  } catch (e) {
    throw new WeightsFormatError(`hdf5: ${source}: cannot parse: ${(e as Error).message}`);
  }
  return wrap(file, '/', source);
}
