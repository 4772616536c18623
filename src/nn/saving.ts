import { listLocalDirectory, readBytes, readSafetensors, readText, type Source } from '../io/resource.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { layerFromConfig } from './layer.js';
import type { Model } from './model.js';
import { assignWeights } from './weights.js';

/**
 * Saving and loading models: weights as safetensors (names `layer/weight`), the model config as
 * JSON beside them (`model.safetensors` + `model.json`). Saving needs Node (both files are written
 * atomically); loading takes a file path in Node or a URL (fetched) in Node and in browsers.
 * File helpers are imported lazily so browser bundles never load `node:fs`.
 */

export const FORMAT = 'wgsl-nn/1';

export function configPathFor(weightsPath: string): string {
  return weightsPath.endsWith('.safetensors')
    ? `${weightsPath.slice(0, -'.safetensors'.length)}.json`
    : `${weightsPath}.json`;
}

export async function saveModelWeights(model: Model, path: string): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new ArgumentError('saveWeights: path must be a non-empty string');
  const io = await import('../io/weights-file.js');
  const map = new Map<string, Tensor>();
  for (const v of model.weights) map.set(v.name!, v);
  await io.saveTensorsFile(path, map, { format: FORMAT, model: model.name });
  const config = {
    format: FORMAT,
    className: model.className,
    config: model.getConfig(),
    weights: configPathFor(path) === path ? undefined : path.split('/').pop(),
  };
  await io.writeFileAtomic(
    configPathFor(path),
    new TextEncoder().encode(`${JSON.stringify(config, null, 1)}\n`),
  );
}

export async function loadModelWeights(
  model: Model,
  path: Source,
  opts: { strict?: boolean } = {},
): Promise<void> {
  const parsed = await readSafetensors('loadWeights', path);
  assignWeights(model.weights, parsed, { strict: opts.strict, source: String(path) });
}

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /**
   * Compile the model from the saved compile config and restore the optimizer's state when the
   * folder holds them (`optimizer.safetensors`, written by `model.save(dir)`; default true, Keras
   * `compile=True`). With false the model comes back uncompiled.
   */
  compile?: boolean;
}

/** What `loadModel` reads: a path or URL, or (in a browser) files the user picked. */
export type ModelSource = Source | Blob | Blob[];

function extension(s: string): string {
  const path = s.replace(/[?#].*$/, '').toLowerCase();
  const m = /\.([a-z0-9]+)$/.exec(path);
  return m ? m[1] : '';
}

/**
 * Loads a model, detecting its format:
 * - ours: `model.json` + `model.safetensors` (path may name either);
 * - a TensorFlow.js LayersModel: `model.json` with `modelTopology` and `weightsManifest` (shards beside it);
 * - Keras 3 `.keras` and legacy Keras `.h5`;
 * - in Node, a folder holding one of these; in a browser, a URL, a File/Blob (`.keras`, `.h5`) or
 *   a TF.js model.json File with its shard Files.
 * Keras layers we cannot run fail before any weight is read, in one error that names them all.
 * A folder saved by `model.save(dir)` from a compiled model comes back compiled, with the
 * optimizer's state, unless `{ compile: false }`.
 */
export async function loadModel(source: ModelSource, opts: LoadModelOptions = {}): Promise<Model> {
  checkOptions<LoadModelOptions>(opts, { compile: true }, 'loadModel');
  if (opts.compile !== undefined && typeof opts.compile !== 'boolean')
    throw new ArgumentError(`loadModel: compile must be a boolean, got ${JSON.stringify(opts.compile)}`);
  if (typeof Blob !== 'undefined' && (source instanceof Blob || (Array.isArray(source) && source.length))) {
    const blobs = Array.isArray(source) ? source : [source];
    if (!blobs.every((b) => b instanceof Blob))
      throw new ArgumentError('loadModel: a list of files must hold only File/Blob objects');
    const formats = await import('./formats.js');
    return formats.loadFromBlobs(blobs);
  }
  const path = source as Source;
  const s = path instanceof URL ? path.href : path;
  if (typeof s !== 'string' || s === '') {
    throw new ArgumentError(`loadModel: path must be a non-empty path or URL, got ${JSON.stringify(path)}`);
  }
  const ext = extension(s);
  if (ext === 'keras' || ext === 'h5' || ext === 'hdf5') {
    const formats = await import('./formats.js');
    return formats.loadKerasBytes(await readBytes('loadModel', path), s);
  }
  if (ext !== 'json' && ext !== 'safetensors') {
    const entries = await listLocalDirectory(path);
    if (entries) {
      const model = await loadModel(pickInFolder(s, entries));
      const state = await import('./training-state.js');
      if (opts.compile === false || !entries.includes(state.OPTIMIZER_FILE)) return model;
      try {
        await state.loadTrainingState(model, `${s.replace(/\/+$/, '')}/${state.OPTIMIZER_FILE}`);
      } catch (e) {
        model.dispose();
        throw e;
      }
      return model;
    }
  }
  const weightsPath = s.endsWith('.json') ? `${s.slice(0, -5)}.safetensors` : s;
  const configPath = s.endsWith('.json') ? path : configPathFor(weightsPath);
  let json: { format?: string; className?: string; config?: Record<string, unknown> };
  const text = await readText('loadModel', configPath);
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ArgumentError(
      `loadModel: the model config ${String(configPath)} is not JSON: ${(e as Error).message}`,
    );
  }
  const formats = await import('./formats.js');
  const tfjs = await import('../io/tfjs.js');
  if (tfjs.isTfjsModelJson(json)) return formats.loadTfjsFrom(configPath, json);
  if (json.format !== FORMAT || typeof json.className !== 'string' || typeof json.config !== 'object') {
    throw new ArgumentError(
      `loadModel: ${String(configPath)} is neither a ${FORMAT} model config nor a TensorFlow.js model.json (format ${JSON.stringify(json.format)})`,
    );
  }
  const model = layerFromConfig({
    className: json.className,
    config: json.config as Record<string, unknown>,
  }) as Model;
  try {
    await loadModelWeights(model, weightsPath);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** The model file in a folder: model.json (ours or TF.js), else its one .keras or .h5 file. */
function pickInFolder(dir: string, entries: string[]): string {
  const base = dir.replace(/\/+$/, '');
  if (entries.includes('model.json')) return `${base}/model.json`;
  const keras = entries.filter((e) => /\.(keras|h5|hdf5)$/i.test(e));
  if (keras.length === 1) return `${base}/${keras[0]}`;
  throw new ArgumentError(
    `loadModel: the folder ${dir} holds ${keras.length ? `several model files (${keras.join(', ')})` : 'no model.json, .keras or .h5 file'}; name the file`,
  );
}
