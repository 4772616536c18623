import { readSafetensors, readText, type Source } from '../io/resource.js';
import { ArgumentError } from '../tensor/errors.js';
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

/**
 * Rebuilds a model from `<path>.json` and loads `<path>.safetensors` (path may name either). In
 * a browser, or with a URL, both are fetched: `await loadModel('/models/flowers/model.json')`.
 */
export async function loadModel(path: Source): Promise<Model> {
  const s = path instanceof URL ? path.href : path;
  if (typeof s !== 'string' || s === '') {
    throw new ArgumentError(`loadModel: path must be a non-empty path or URL, got ${JSON.stringify(path)}`);
  }
  const weightsPath = s.endsWith('.json') ? `${s.slice(0, -5)}.safetensors` : s;
  const configPath = configPathFor(weightsPath);
  let json: { format?: string; className?: string; config?: Record<string, unknown> };
  const text = await readText('loadModel', configPath);
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ArgumentError(`loadModel: the model config ${configPath} is not JSON: ${(e as Error).message}`);
  }
  if (json.format !== FORMAT || typeof json.className !== 'string' || typeof json.config !== 'object') {
    throw new ArgumentError(
      `loadModel: ${configPath} is not a ${FORMAT} model config (format ${JSON.stringify(json.format)})`,
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
