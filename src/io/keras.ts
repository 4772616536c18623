/**
 * Keras files: Keras 3 `.keras` (a zip of config.json, metadata.json and model.weights.h5, whose
 * weights sit at `layers/<snake_case class>[_n]/vars/<i>` in the order of the model's layers) and
 * legacy Keras 2 `.h5` (a `model_config` attribute, and per layer a group listing its `weight_names`;
 * the Keras applications weight files have the same groups at the root, without a config). Both are
 * turned into weights per leaf layer, matched to a model by the caller.
 */
import { snakeCase } from '../nn/layer.js';
import { WeightsFormatError } from './errors.js';
import { type H5Array, type H5Node, readHdf5 } from './hdf5.js';
import type { H5WriteGroup } from './hdf5-write.js';
import type { KerasLayerJson } from './keras-layers.js';
import type { SafetensorsEntry } from './safetensors.js';
import { readZip, writeZip } from './zip.js';

/** One weight of a layer as stored: its short name when the file has one (`kernel`), and its values. */
export interface LeafWeight {
  short?: string;
  entry: SafetensorsEntry;
}

/** Weights by (leaf, non-model) layer name, in file order. */
export type LeafWeights = Map<string, LeafWeight[]>;

/** A parsed Keras file: the model config (absent in weights-only files) and a reader for its weights. */
export interface KerasFile {
  topology?: KerasLayerJson;
  readWeights(): LeafWeights;
}

function entryOf(a: H5Array): SafetensorsEntry {
  return {
    dtype: a.dtype === 'float32' ? 'F32' : 'I32',
    shape: a.shape,
    data: new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength),
  };
}

function push(into: LeafWeights, layer: string, w: LeafWeight): void {
  const list = into.get(layer);
  if (list) list.push(w);
  else into.set(layer, [w]);
}

const MODELS = new Set(['Sequential', 'Functional', 'Model']);

/** The layers Keras 3 saves for a model config, in order (a Sequential's InputLayer is not one). */
function savedLayers(model: KerasLayerJson): KerasLayerJson[] {
  const layers = (model.config?.layers ?? []) as KerasLayerJson[];
  return model.class_name === 'Sequential' ? layers.filter((l) => l.class_name !== 'InputLayer') : layers;
}

/** Keras 3's names for the children of a container: snake_case class, then _1, _2... */
function childKeys(layers: KerasLayerJson[]): string[] {
  const used = new Map<string, number>();
  return layers.map((l) => {
    const base = snakeCase(l.class_name);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return n === undefined ? base : `${base}_${n + 1}`;
  });
}

function collectKeras3(node: H5Node, model: KerasLayerJson, into: LeafWeights, source: string): void {
  const layers = savedLayers(model);
  const keys = childKeys(layers);
  layers.forEach((l, i) => {
    const name = String(l.config?.name ?? l.name);
    const g = node.child(`layers/${keys[i]}`);
    if (!g) {
      throw new WeightsFormatError(
        `loadModel: ${source}: model.weights.h5 has no group layers/${keys[i]} for layer '${name}'`,
      );
    }
    const label = g.child('vars')?.attrs().name;
    if (typeof label === 'string' && label !== name) {
      throw new WeightsFormatError(
        `loadModel: ${source}: model.weights.h5 stores layer '${label}' at layers/${keys[i]}, where the config has '${name}'`,
      );
    }
    if (MODELS.has(l.class_name)) {
      collectKeras3(g, l, into, source);
      return;
    }
    const vars = g.child('vars');
    const ids = (vars?.keys() ?? []).map(Number).sort((a, b) => a - b);
    for (const id of ids) push(into, name, { entry: entryOf(vars!.child(String(id))!.read()) });
  });
}

function parseJson(bytes: Uint8Array | undefined, what: string, source: string): Record<string, unknown> {
  if (!bytes) throw new WeightsFormatError(`loadModel: ${source}: the .keras archive has no ${what}`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new WeightsFormatError(`loadModel: ${source}: ${what} is not JSON: ${(e as Error).message}`);
  }
}

/** Reads a Keras 3 `.keras` archive; the weights are parsed only when `readWeights` is called. */
export async function parseKerasZip(bytes: Uint8Array, source: string): Promise<KerasFile> {
  const entries = await readZip(bytes, source);
  const topology = parseJson(entries.get('config.json'), 'config.json', source) as unknown as KerasLayerJson;
  const weights = entries.get('model.weights.h5');
  return {
    topology,
    readWeights() {
      if (!weights)
        throw new WeightsFormatError(`loadModel: ${source}: the .keras archive has no model.weights.h5`);
      const out: LeafWeights = new Map();
      collectKeras3(readHdf5(weights, `${source}/model.weights.h5`), topology, out, source);
      return out;
    },
  };
}

function strings(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<unknown>) : [v];
  return list.map((s) => (s instanceof Uint8Array ? new TextDecoder().decode(s) : String(s)));
}

/** Legacy layer groups: `weight_names` like `dense/kernel:0` or `head/inner/kernel` -> leaf layer, short name. */
function collectLegacy(root: H5Node, into: LeafWeights, source: string): void {
  const names = strings(root.attrs().layer_names);
  for (const layer of names.length ? names : root.keys()) {
    const g = root.child(layer);
    if (!g || g.isDataset) continue;
    for (const wn of strings(g.attrs().weight_names)) {
      const d = g.child(wn);
      if (!d)
        throw new WeightsFormatError(`loadModel: ${source}: layer group '${layer}' lacks its weight '${wn}'`);
      const parts = wn.replace(/:\d+$/, '').split('/');
      const leaf = parts.length >= 2 ? parts[parts.length - 2] : layer;
      push(into, leaf, { short: parts[parts.length - 1], entry: entryOf(d.read()) });
    }
  }
}

/** Reads a legacy Keras `.h5` (a whole model, or weights only as the Keras applications ship them). */
export function parseKerasH5(bytes: Uint8Array, source: string): KerasFile {
  const root = readHdf5(bytes, source);
  const attr = root.attrs().model_config;
  let topology: KerasLayerJson | undefined;
  if (attr !== undefined) {
    const text = attr instanceof Uint8Array ? new TextDecoder().decode(attr) : String(attr);
    try {
      topology = JSON.parse(text);
    } catch (e) {
      throw new WeightsFormatError(
        `loadModel: ${source}: the model_config attribute is not JSON: ${(e as Error).message}`,
      );
    }
  }
  return {
    topology,
    readWeights() {
      const out: LeafWeights = new Map();
      collectLegacy(root.child('model_weights') ?? root, out, source);
      return out;
    },
  };
}

/** Weights named `leaf/short` (TF.js manifests; nested models may prefix more path) by leaf layer. */
export function leafWeightsFromNames(tensors: Map<string, SafetensorsEntry>): LeafWeights {
  const out: LeafWeights = new Map();
  for (const [name, entry] of tensors) {
    const parts = name.replace(/:\d+$/, '').split('/');
    push(out, parts.length >= 2 ? parts[parts.length - 2] : name, { short: parts[parts.length - 1], entry });
  }
  return out;
}

/** A float32/int32 array to store. */
export interface StoredArray {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** The HDF5 tree of model.weights.h5 for a Keras 3 config; `varsOf(name)` gives a leaf layer's weights. */
export function keras3WeightsTree(
  model: KerasLayerJson,
  varsOf: (layer: string) => StoredArray[],
): H5WriteGroup {
  const walk = (m: KerasLayerJson): H5WriteGroup => {
    const layers = savedLayers(m);
    const keys = childKeys(layers);
    return {
      groups: [
        [
          'layers',
          {
            groups: layers.map((l, i): [string, H5WriteGroup] => {
              const name = String(l.config?.name);
              if (MODELS.has(l.class_name)) {
                const sub = walk(l);
                return [keys[i], { ...sub, groups: [...(sub.groups ?? []), ['vars', { attrs: { name } }]] }];
              }
              const vars = varsOf(name).map((a, k): [string, StoredArray] => [String(k), a]);
              return [keys[i], { groups: [['vars', { attrs: { name }, datasets: vars }]] }];
            }),
          },
        ],
      ],
    };
  };
  const tree = walk(model);
  tree.groups!.push(['vars', { attrs: { name: String(model.config?.name) } }]);
  return tree;
}

/** A `.keras` archive from its config JSON and weights file bytes. */
export function encodeKerasZip(
  config: Record<string, unknown>,
  weightsH5: Uint8Array,
  kerasVersion = '3.15.1',
): Uint8Array {
  const enc = new TextEncoder();
  const metadata = { keras_version: kerasVersion, date_saved: new Date().toISOString(), saved_by: 'wgsl-nn' };
  return writeZip([
    ['metadata.json', enc.encode(JSON.stringify(metadata))],
    ['config.json', enc.encode(JSON.stringify(config))],
    ['model.weights.h5', weightsH5],
  ]);
}
