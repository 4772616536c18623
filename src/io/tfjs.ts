/**
 * The TensorFlow.js LayersModel format: `model.json` (`modelTopology`, a Keras config, and
 * `weightsManifest`, groups of weights each stored across one or more binary shards) plus the shards.
 * Weights are float32 or int32, or quantized by tensorflowjs_converter (uint8 / uint16 affine with
 * `min` and `scale`, or float16); they are dequantized here exactly as @tensorflow/tfjs-core does.
 */
import { WeightsFormatError } from './errors.js';
import type { KerasLayerJson } from './keras-layers.js';
import type { ParsedSafetensors, SafetensorsEntry } from './safetensors.js';

/** One weight of a manifest group. */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

/** A manifest group: its shard files (concatenated in order) and the weights stored in them. */
export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

/** The parsed `model.json`. */
export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: Record<string, unknown>;
  weightsManifest: TfjsWeightsGroup[];
}

/** True for a TensorFlow.js model.json (it has `modelTopology` and `weightsManifest`). */
export function isTfjsModelJson(json: unknown): json is TfjsModelJson {
  return (
    json !== null &&
    typeof json === 'object' &&
    'modelTopology' in json &&
    Array.isArray((json as { weightsManifest?: unknown }).weightsManifest)
  );
}

/** The Keras model config inside `modelTopology` (TF.js writes it bare, the converter under `model_config`). */
export function tfjsTopology(json: TfjsModelJson, source: string): KerasLayerJson {
  const t = json.modelTopology as { model_config?: KerasLayerJson } & Partial<KerasLayerJson>;
  const m = t?.model_config ?? t;
  if (!m || typeof m.class_name !== 'string') {
    throw new WeightsFormatError(
      `loadModel: ${source}: modelTopology has no Keras model config (class_name missing); graph models (tf.loadGraphModel) are not LayersModels`,
    );
  }
  return m as KerasLayerJson;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Decodes one manifest group from its shards (concatenated in `paths` order) into named entries
 * (float32 F32 / int32 I32; float16 kept as F16, widened on assignment). Errors name `source`.
 */
export function decodeTfjsGroup(
  group: TfjsWeightsGroup,
  shards: Uint8Array[],
  source: string,
  into: Map<string, SafetensorsEntry>,
): void {
  const total = shards.reduce((n, s) => n + s.length, 0);
  const bytes = new Uint8Array(total);
  let o = 0;
  for (const s of shards) {
    bytes.set(s, o);
    o += s.length;
  }
  let offset = 0;
  for (const w of group.weights) {
    const stored = w.quantization?.dtype ?? w.dtype;
    const per = BYTES[stored];
    if (!per || (w.dtype !== 'float32' && w.dtype !== 'int32')) {
      throw new WeightsFormatError(
        `loadModel: ${source}: weight '${w.name}' has dtype ${w.dtype}${w.quantization ? ` quantized as ${stored}` : ''} (supported: float32, int32; quantized uint8, uint16, float16)`,
      );
    }
    if (!Array.isArray(w.shape) || w.shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new WeightsFormatError(
        `loadModel: ${source}: weight '${w.name}' has shape ${JSON.stringify(w.shape)}`,
      );
    const n = size(w.shape);
    const end = offset + n * per;
    if (end > bytes.length) {
      throw new WeightsFormatError(
        `loadModel: ${source}: the shards of group [${group.paths.join(', ')}] hold ${bytes.length} bytes, weight '${w.name}' needs bytes ${offset}..${end}`,
      );
    }
    const raw = bytes.slice(offset, end);
    offset = end;
    into.set(w.name, decodeOne(w, raw, n, source));
  }
  if (offset !== bytes.length) {
    throw new WeightsFormatError(
      `loadModel: ${source}: the shards of group [${group.paths.join(', ')}] hold ${bytes.length} bytes, the manifest describes ${offset}`,
    );
  }
}

function decodeOne(w: TfjsWeightSpec, raw: Uint8Array, n: number, source: string): SafetensorsEntry {
  const q = w.quantization;
  if (!q) return { dtype: w.dtype === 'float32' ? 'F32' : 'I32', shape: w.shape, data: raw };
  if (q.dtype === 'float16') {
    if (w.dtype !== 'float32')
      throw new WeightsFormatError(`loadModel: ${source}: weight '${w.name}' is int32 quantized as float16`);
    return { dtype: 'F16', shape: w.shape, data: raw };
  }
  if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
    throw new WeightsFormatError(
      `loadModel: ${source}: weight '${w.name}' is quantized as ${q.dtype} without min and scale`,
    );
  }
  const src = q.dtype === 'uint8' ? raw : new Uint16Array(raw.buffer, raw.byteOffset, n);
  if (w.dtype === 'int32') {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.round(src[i] * q.scale + q.min);
    return { dtype: 'I32', shape: w.shape, data: new Uint8Array(out.buffer) };
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i] * q.scale + q.min;
  return { dtype: 'F32', shape: w.shape, data: new Uint8Array(out.buffer) };
}

/** Loads every group of the manifest; `readShard(path)` fetches one shard (relative to model.json). */
export async function readTfjsWeights(
  json: TfjsModelJson,
  readShard: (path: string) => Promise<Uint8Array>,
  source: string,
): Promise<ParsedSafetensors> {
  const tensors = new Map<string, SafetensorsEntry>();
  for (const group of json.weightsManifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights))
      throw new WeightsFormatError(`loadModel: ${source}: a weightsManifest group lacks paths or weights`);
    const shards = await Promise.all(group.paths.map((p) => readShard(p)));
    decodeTfjsGroup(group, shards, source, tensors);
  }
  return { metadata: Object.create(null) as Record<string, string>, tensors };
}

/** A named float32 / int32 array to write. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * model.json and its shards for `weights` (one group, shards of at most `shardBytes`, 4 MiB as
 * TF.js writes): `{ json, shards: [[fileName, bytes], ...] }`.
 */
export function encodeTfjs(
  topology: KerasLayerJson,
  weights: NamedArray[],
  shardBytes = 4 * 1024 * 1024,
): { json: TfjsModelJson; shards: Array<[string, Uint8Array]> } {
  const total = weights.reduce((n, w) => n + w.data.byteLength, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const w of weights) {
    all.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), o);
    o += w.data.byteLength;
  }
  const count = Math.max(1, Math.ceil(total / shardBytes));
  const shards: Array<[string, Uint8Array]> = [];
  for (let i = 0; i < count; i++)
    shards.push([`group1-shard${i + 1}of${count}.bin`, all.slice(i * shardBytes, (i + 1) * shardBytes)]);
  return {
    json: {
      format: 'layers-model',
      generatedBy: 'wgsl-nn',
      convertedBy: null,
      modelTopology: { ...topology, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
      weightsManifest: [
        {
          paths: shards.map((s) => s[0]),
          weights: weights.map((w) => ({
            name: w.name,
            shape: w.shape,
            dtype: w.data instanceof Int32Array ? 'int32' : 'float32',
          })),
        },
      ],
    },
    shards,
  };
}
