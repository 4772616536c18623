/**
 * Models from and to other libraries' files: TensorFlow.js LayersModels (model.json + shards), Keras 3
 * `.keras` and legacy Keras `.h5`. The file formats live in src/io; this module turns their Keras
 * configs into our layers (refusing, in one error and before any weight is read, every layer we
 * cannot run) and matches their weights to our variables.
 */
import { ModelFormatError } from '../io/errors.js';
import {
  type KerasFile,
  type LeafWeights,
  leafWeightsFromNames,
  parseKerasH5,
  parseKerasZip,
} from '../io/keras.js';
import type { KerasLayerJson, OurLayerJson } from '../io/keras-layers.js';
import { convertModel, toKerasJson } from '../io/keras-model.js';
import { readBytes, type Source, sibling } from '../io/resource.js';
import type { SafetensorsEntry } from '../io/safetensors.js';
import { isTfjsModelJson, readTfjsWeights, type TfjsModelJson, tfjsTopology } from '../io/tfjs.js';
import { ArgumentError } from '../tensor/errors.js';
import { type Layer, layerFromConfig } from './layer.js';
import { Model } from './model.js';
import { assignWeights } from './weights.js';

/** Builds our model from a Keras topology, or throws one error naming every unsupported layer. */
export function modelFromKeras(topology: KerasLayerJson, source: string): Model {
  const problems = { list: [] as string[] };
  const ours = convertModel(topology, problems);
  if (problems.list.length) {
    throw new ModelFormatError(
      `loadModel: ${source}: ${problems.list.length} layer(s) not supported by wgsl-nn: ${problems.list.join('; ')}`,
    );
  }
  const model = layerFromConfig(ours);
  if (!(model instanceof Model))
    throw new ModelFormatError(`loadModel: ${source}: the config is not a model`);
  return model;
}

/** Layers that own weights, nested models opened. */
function leafLayers(m: Model): Layer[] {
  return m.layers.flatMap((l) => (l instanceof Model ? leafLayers(l) : [l]));
}

/** Options of `assignLeafWeights`. */
export interface LeafAssignOptions {
  source: string;
  /** File layer name -> model layer name (the Keras applications' `Logits` is our `predictions`). */
  renameLayer?: (name: string) => string;
  /** Only these model layers are loaded (default: all). */
  only?: (layer: Layer) => boolean;
  strict?: boolean;
}

/**
 * Loads per-layer weights into the model's layers of the same names. Within a layer, weights match by
 * short name when the file's names are ours (`kernel`, `moving_mean`...), else by position, as Keras
 * does (Keras 3 calls a depthwise kernel `kernel`, we and Keras 2 `depthwise_kernel`). Everything is
 * checked first; one error lists every missing, unexpected or mismatched weight.
 */
export function assignLeafWeights(model: Model, leaves: LeafWeights, opts: LeafAssignOptions): void {
  const renamed: LeafWeights = new Map();
  for (const [k, v] of leaves) renamed.set(opts.renameLayer ? opts.renameLayer(k) : k, v);
  const tensors = new Map<string, SafetensorsEntry>();
  const layers = leafLayers(model).filter((l) => l.weightEntries.length && (opts.only?.(l) ?? true));
  const known = new Set(leafLayers(model).map((l) => l.name));
  for (const layer of layers) {
    const ws = renamed.get(layer.name) ?? [];
    const ours = layer.weightEntries.map((e) => e.name);
    const shorts = ws.map((w) => w.short);
    const byName =
      shorts.every((s) => s !== undefined && ours.includes(s)) && new Set(shorts).size === shorts.length;
    ws.forEach((w, i) => {
      const short = byName ? w.short : (ours[i] ?? `${w.short ?? 'weight'} #${i}`);
      tensors.set(`${layer.name}/${short}`, w.entry);
    });
  }
  for (const [leaf, ws] of renamed)
    if (!known.has(leaf))
      ws.forEach((w, i) => {
        tensors.set(`${leaf}/${w.short ?? `#${i}`}`, w.entry);
      });
  const vars = layers.flatMap((l) => l.weights);
  assignWeights(
    vars,
    { metadata: Object.create(null), tensors },
    { source: opts.source, strict: opts.strict },
  );
}

async function fromKerasFile(file: KerasFile, source: string): Promise<Model> {
  if (!file.topology) {
    throw new ModelFormatError(
      `loadModel: ${source} holds weights only (no model_config); build the model and load them into it (e.g. loadMobileNetV2Weights)`,
    );
  }
  const model = modelFromKeras(file.topology, source);
  try {
    assignLeafWeights(model, file.readWeights(), { source });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Loads a Keras 3 `.keras` or legacy `.h5` model from its bytes. */
export async function loadKerasBytes(bytes: Uint8Array, source: string): Promise<Model> {
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  const file = isZip ? await parseKerasZip(bytes, source) : parseKerasH5(bytes, source);
  return fromKerasFile(file, source);
}

/** Loads a TensorFlow.js LayersModel; `readShard` reads a shard named in the manifest. */
export async function loadTfjs(
  json: TfjsModelJson,
  readShard: (path: string) => Promise<Uint8Array>,
  source: string,
): Promise<Model> {
  const model = modelFromKeras(tfjsTopology(json, source), source);
  try {
    const parsed = await readTfjsWeights(json, readShard, source);
    assignLeafWeights(model, leafWeightsFromNames(parsed.tensors), { source });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Loads a TensorFlow.js model.json at a path or URL, its shards beside it. */
export async function loadTfjsFrom(path: Source, json: TfjsModelJson): Promise<Model> {
  return loadTfjs(json, (p) => readBytes('loadModel', sibling(path, p)), String(path));
}

function blobName(b: Blob): string {
  return (b as Blob & { name?: string }).name ?? '';
}

/**
 * Loads from browser files: one `.keras` / `.h5` Blob, or a TF.js model.json plus its shards (as
 * from `<input type="file" multiple>`). Shards are found by file name.
 */
export async function loadFromBlobs(blobs: Blob[]): Promise<Model> {
  const bytesOf = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
  const jsonBlob =
    blobs.find((b) => blobName(b).endsWith('.json')) ?? (blobs.length > 1 ? blobs[0] : undefined);
  if (!jsonBlob || blobs.length === 1) {
    const bytes = await bytesOf(blobs[0]);
    if (bytes[0] !== 0x7b) return loadKerasBytes(bytes, blobName(blobs[0]) || 'Blob');
  }
  const main = jsonBlob ?? blobs[0];
  const source = blobName(main) || 'model.json';
  let json: unknown;
  try {
    json = JSON.parse(await main.text());
  } catch (e) {
    throw new ArgumentError(
      `loadModel: ${source} is neither a .keras/.h5 file nor JSON: ${(e as Error).message}`,
    );
  }
  if (!isTfjsModelJson(json))
    throw new ArgumentError(
      `loadModel: ${source} is not a TensorFlow.js model.json (no modelTopology / weightsManifest)`,
    );
  const byName = new Map(blobs.map((b) => [blobName(b), b]));
  return loadTfjs(
    json,
    async (p) => {
      const b = byName.get(p) ?? byName.get(p.split('/').pop() ?? p);
      if (!b)
        throw new ArgumentError(
          `loadModel: the shard '${p}' named in ${source} is not among the given files`,
        );
      return bytesOf(b);
    },
    source,
  );
}

/** Our model as a Keras config for TF.js or Keras 3 (a Sequential gets its input shape from the model). */
export function kerasJsonOf(model: Model, flavor: 'tfjs' | 'keras3'): KerasLayerJson {
  const ours: OurLayerJson = { className: model.className, config: model.getConfig() };
  const layers = ours.config.layers as OurLayerJson[] | undefined;
  if (ours.className === 'Sequential' && layers?.[0] && !layers[0].config.batchInputShape && model.inputShape)
    layers[0].config.batchInputShape = model.inputShape;
  return toKerasJson(ours, flavor);
}
