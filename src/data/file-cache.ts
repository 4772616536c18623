/**
 * The file-backed store of `Dataset.cache(filename)` (Node only, loaded lazily): element i of a
 * complete pass is `<filename>.<i>.safetensors` (its tensors, with the element's structure as JSON
 * metadata), and `<filename>.index.json` marks the pass complete. Like tf.data's file cache, a
 * complete cache is reused by later runs of the program.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  type ParsedSafetensors,
  type SerializableTensor,
  serializeSafetensors,
  toFloat32,
  toInt32,
} from '../io/safetensors.js';
import { readSafetensorsFile, writeFileAtomic } from '../io/weights-file.js';
import { tensor } from '../tensor/creation.js';
import type { DType } from '../tensor/dtype.js';
import { ArgumentError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

const elementPath = (f: string, i: number) => `${f}.${i}.safetensors`;
const indexPath = (f: string) => `${f}.index.json`;

/** Number of cached elements, or undefined when no complete pass is on disk. */
export async function cachedCount(filename: string): Promise<number | undefined> {
  if (!existsSync(indexPath(filename))) return undefined;
  const { count } = JSON.parse(await readFile(indexPath(filename), 'utf8')) as { count: number };
  return Number.isInteger(count) ? count : undefined;
}

type Node = unknown;

export async function writeElement(filename: string, i: number, x: Node): Promise<void> {
  const tensors: SerializableTensor[] = [];
  const walk = async (v: Node, where: string): Promise<unknown> => {
    if (v instanceof Tensor) {
      const data = await v.data();
      tensors.push({
        name: `t${tensors.length}`,
        dtype: v.dtype === 'float32' ? 'F32' : 'I32',
        shape: v.shape,
        data,
      });
      return { __tensor__: tensors.length - 1, dtype: v.dtype };
    }
    if (Array.isArray(v)) return Promise.all(v.map((e, k) => walk(e, `${where}[${k}]`)));
    if (v !== null && typeof v === 'object') {
      if (Object.getPrototypeOf(v) !== Object.prototype) {
        throw new ArgumentError(
          `Dataset.cache(filename): element ${i}${where} is not a tensor, array, plain object or JSON value`,
        );
      }
      const out: Record<string, unknown> = {};
      for (const [k, e] of Object.entries(v)) out[k] = await walk(e, `${where}.${k}`);
      return out;
    }
    return v;
  };
  const structure = await walk(x, '');
  await writeFileAtomic(
    elementPath(filename, i),
    serializeSafetensors(tensors, { structure: JSON.stringify(structure) }),
  );
}

export async function markComplete(filename: string, count: number): Promise<void> {
  await writeFileAtomic(indexPath(filename), new TextEncoder().encode(JSON.stringify({ count })));
}

export async function readElement<T>(filename: string, i: number): Promise<T> {
  const file: ParsedSafetensors = await readSafetensorsFile(elementPath(filename, i));
  const entries = [...file.tensors.values()];
  const build = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(build);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.__tensor__ === 'number') {
        const e = entries[o.__tensor__];
        const dtype = o.dtype as DType;
        return tensor(dtype === 'float32' ? toFloat32(e) : toInt32(e), e.shape, dtype);
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, build(x)]));
    }
    return v;
  };
  return build(JSON.parse(file.metadata.structure ?? 'null')) as T;
}
