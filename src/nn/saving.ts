import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { layerFromConfig } from './layer.js';
import type { Model } from './model.js';
import { assignWeights } from './weights.js';

/**
 * Saving and loading models in Node: weights as safetensors (names `layer/weight`), the model
 * config as JSON beside them (`model.safetensors` + `model.json`). Both written atomically.
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
  path: string,
  opts: { strict?: boolean } = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new ArgumentError('loadWeights: path must be a non-empty string');
  const io = await import('../io/weights-file.js');
  const parsed = await io.readSafetensorsFile(path);
  assignWeights(model.weights, parsed, { strict: opts.strict, source: path });
}

/** Rebuilds a model from `<path>.json` and loads `<path>.safetensors` (path may name either). */
export async function loadModel(path: string): Promise<Model> {
  const { readFile } = await import('node:fs/promises');
  const weightsPath = path.endsWith('.json') ? `${path.slice(0, -5)}.safetensors` : path;
  const configPath = configPathFor(weightsPath);
  let json: { format?: string; className?: string; config?: Record<string, unknown> };
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (e) {
    throw new ArgumentError(`loadModel: cannot read the model config ${configPath}: ${(e as Error).message}`);
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
