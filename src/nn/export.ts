/**
 * `model.save(target, { format })`: our format (model.json + model.safetensors), TensorFlow.js
 * (model.json + group1-shard*.bin, what tf.loadLayersModel reads) or Keras 3 (`.keras`). Node only:
 * folders are created and every file is written atomically.
 */
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions } from '../tensor/options.js';
import { kerasJsonOf } from './formats.js';
import type { Layer } from './layer.js';
import { Model } from './model.js';
import { saveModelWeights } from './saving.js';

/** The formats `model.save` writes. */
export type SaveFormat = 'wgsl-nn' | 'tfjs' | 'keras';

/** Options of `model.save`. */
export interface SaveOptions {
  /**
   * 'wgsl-nn' (default; `target` is the .safetensors path or a folder), 'tfjs' (`target` is a folder
   * or a path ending in .json) or 'keras' (`target` ends in .keras). Without it, a `.keras` target
   * means 'keras'.
   */
  format?: SaveFormat;
  /**
   * In our format saved to a folder: also write `optimizer.safetensors` (the optimizer's config,
   * step count and slot variables, and the compile config) when the model is compiled with loss
   * and metric names (default true, as Keras). A file target and the tfjs and keras formats save
   * the model alone. Without it (or for an uncompiled model) an older optimizer file in the folder
   * is removed.
   */
  includeOptimizer?: boolean;
}

const FORMATS: readonly SaveFormat[] = ['wgsl-nn', 'tfjs', 'keras'];

function leafLayers(m: Model): Layer[] {
  return m.layers.flatMap((l) => (l instanceof Model ? leafLayers(l) : [l]));
}

async function arrays(layer: Layer): Promise<Array<{ shape: number[]; data: Float32Array | Int32Array }>> {
  const out = [];
  for (const v of layer.weights) {
    const data = await v.data();
    out.push({ shape: [...v.shape], data: data instanceof Int32Array ? data : Float32Array.from(data) });
  }
  return out;
}

function splitTarget(target: string, file: string): { dir: string; path: string } {
  const clean = target.replace(/\/+$/, '');
  if (clean.endsWith(file.slice(file.lastIndexOf('.')))) {
    const i = clean.lastIndexOf('/');
    return { dir: i < 0 ? '.' : clean.slice(0, i) || '/', path: clean };
  }
  return { dir: clean, path: `${clean}/${file}` };
}

/** Saves `model` at `target` in `opts.format` (see `SaveOptions`). */
export async function saveModel(model: Model, target: string, opts: SaveOptions = {}): Promise<void> {
  if (typeof target !== 'string' || target === '')
    throw new ArgumentError(`save: target must be a non-empty path, got ${JSON.stringify(target)}`);
  checkOptions<SaveOptions>(opts, { format: true, includeOptimizer: true }, 'save');
  if (opts.includeOptimizer !== undefined && typeof opts.includeOptimizer !== 'boolean')
    throw new ArgumentError(
      `save: includeOptimizer must be a boolean, got ${JSON.stringify(opts.includeOptimizer)}`,
    );
  const format = opts.format ?? (target.endsWith('.keras') ? 'keras' : 'wgsl-nn');
  if (!FORMATS.includes(format))
    throw new ArgumentError(
      `save: format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}`,
    );
  const fs = await import('../io/node-fs.js');
  const io = await import('../io/weights-file.js');
  if (format === 'wgsl-nn') {
    const { dir, path } = splitTarget(target, 'model.safetensors');
    await fs.makeDirectory(dir);
    await saveModelWeights(model, path);
    if (path === `${dir}/model.safetensors` && !target.replace(/\/+$/, '').endsWith('.safetensors')) {
      const state = await import('./training-state.js');
      const file = `${dir}/${state.OPTIMIZER_FILE}`;
      await fs.removeFile(file);
      if (opts.includeOptimizer !== false) await state.saveTrainingState(model, file);
    }
    return;
  }
  if (format === 'tfjs') {
    const { encodeTfjs } = await import('../io/tfjs.js');
    type Named = Parameters<typeof encodeTfjs>[1][number];
    const { dir, path } = splitTarget(target, 'model.json');
    const weights: Named[] = [];
    for (const l of leafLayers(model)) {
      const data = await arrays(l);
      l.weightEntries.forEach((e, i) => {
        weights.push({ name: e.variable.name ?? `${l.name}/${e.name}`, ...data[i] });
      });
    }
    const { json, shards } = encodeTfjs(kerasJsonOf(model, 'tfjs'), weights);
    await fs.makeDirectory(dir);
    for (const [name, bytes] of shards) await io.writeFileAtomic(`${dir}/${name}`, bytes);
    await io.writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(json)));
    return;
  }
  if (!target.endsWith('.keras'))
    throw new ArgumentError(
      `save: a Keras file needs a path ending in .keras, got ${JSON.stringify(target)}`,
    );
  const { encodeKerasZip, keras3WeightsTree } = await import('../io/keras.js');
  const { writeHdf5 } = await import('../io/hdf5-write.js');
  const config = kerasJsonOf(model, 'keras3');
  const byName = new Map<string, Awaited<ReturnType<typeof arrays>>>();
  for (const l of leafLayers(model)) byName.set(l.name, await arrays(l));
  const h5 = await writeHdf5(keras3WeightsTree(config, (name) => byName.get(name) ?? []));
  await fs.makeDirectory(splitTarget(target, 'model.keras').dir);
  await io.writeFileAtomic(
    target,
    encodeKerasZip({ ...config, build_config: null, compile_config: null }, h5),
  );
}
