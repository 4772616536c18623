import { type SafetensorsEntry, toFloat32 } from '../io/safetensors.js';
import { tensor } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CompileArgs, Model } from './model.js';
import type { Optimizer } from './optimizers.js';
import { optimizerFromConfig as fromConfig } from './optimizers-more.js';

/**
 * The training state saved with a model: the optimizer's slot variables and step count (shared by
 * checkpoints and `model.save`), and the compile config that lets `loadModel` return a compiled
 * model whose `fit` continues exactly.
 */

const SLOT = '__optimizer__/';
/** The format tag of the optimizer file `model.save(dir)` writes beside model.json. */
export const OPTIMIZER_FORMAT = 'wgsl-nn-optimizer/1';
/** Its file name in the model folder. */
export const OPTIMIZER_FILE = 'optimizer.safetensors';

/** The optimizer's slot variables, named `__optimizer__/<weight>/<k>`. */
export function optimizerStateTensors(model: Model): Map<string, Tensor> {
  const map = new Map<string, Tensor>();
  const trainable = model.trainableWeights;
  model.optimizer!.slotVariables(trainable).forEach((slots, i) => {
    slots.forEach((s, k) => {
      map.set(`${SLOT}${trainable[i].name}/${k}`, s);
    });
  });
  return map;
}

/** Whether a tensor name in a saved file is an optimizer slot. */
export function isSlotName(name: string): boolean {
  return name.startsWith(SLOT);
}

/**
 * Puts saved slot values (entries named by `optimizerStateTensors`), the step count and the scalar
 * state (`optimizer.getState()` as JSON, e.g. Nadam's momentum product) into the model's optimizer.
 */
export function restoreOptimizerState(
  model: Model,
  entries: ReadonlyMap<string, SafetensorsEntry>,
  iterations: number,
  state?: string,
): void {
  const slots = new Map<string, Tensor>();
  for (const [name, e] of entries) if (isSlotName(name)) slots.set(name, tensor(toFloat32(e), e.shape));
  try {
    const byWeight = new Map<string, Tensor[]>();
    for (const [name, t] of slots) {
      const rest = name.slice(SLOT.length);
      const cut = rest.lastIndexOf('/');
      const list = byWeight.get(rest.slice(0, cut)) ?? [];
      list[Number(rest.slice(cut + 1))] = t;
      byWeight.set(rest.slice(0, cut), list);
    }
    for (const w of model.trainableWeights) {
      const vals = byWeight.get(w.name!);
      if (vals) model.optimizer!.setSlots(w, vals);
    }
  } finally {
    for (const t of slots.values()) t.dispose();
  }
  model.optimizer!.iterations = iterations;
  if (state) model.optimizer!.setState(JSON.parse(state));
}

/** `compile`'s arguments as JSON (Keras `compile_config`), or undefined when a loss or metric is a function. */
export function compileConfigOf(model: Model): Record<string, unknown> | undefined {
  const args = model.compileArgs;
  if (!args || !model.optimizer) return undefined;
  const plain = (v: unknown): boolean =>
    v === undefined ||
    typeof v === 'string' ||
    typeof v === 'number' ||
    (Array.isArray(v) && v.every(plain)) ||
    (v !== null && typeof v === 'object' && Object.values(v).every(plain));
  if (!plain(args.loss) || !plain(args.metrics) || !plain(args.lossWeights)) return undefined;
  const optimizer = model.optimizer.getConfig();
  const lr = optimizer.learningRate;
  if (typeof lr !== 'number' && (lr === null || typeof lr !== 'object')) return undefined;
  return { optimizer, loss: args.loss, lossWeights: args.lossWeights, metrics: args.metrics };
}

/**
 * An optimizer from its `getConfig()` (`{ name, learningRate, ... }`; every optimizer and schedule,
 * see optimizers-more.ts), with `who` naming the caller in errors.
 */
export function optimizerFromConfig(config: Record<string, unknown>, who = 'optimizerFromConfig'): Optimizer {
  try {
    return fromConfig(config);
  } catch (e) {
    if (e instanceof ArgumentError && who !== 'optimizerFromConfig')
      throw new ArgumentError(`${who}: the saved compile config: ${e.message}`);
    throw e;
  }
}

/** Writes the optimizer state and compile config of `model` to `path` (atomically). */
export async function saveTrainingState(model: Model, path: string): Promise<void> {
  const compile = compileConfigOf(model);
  if (!compile) return;
  const io = await import('../io/weights-file.js');
  await io.saveTensorsFile(path, optimizerStateTensors(model), {
    format: OPTIMIZER_FORMAT,
    iterations: String(model.optimizer!.iterations),
    optimizerState: JSON.stringify(model.optimizer!.getState()),
    compile: JSON.stringify(compile),
  });
}

/** Compiles `model` from the file written by `saveTrainingState` and restores the optimizer's state. */
export async function loadTrainingState(model: Model, path: string): Promise<void> {
  const io = await import('../io/weights-file.js');
  const file = await io.readSafetensorsFile(path);
  if (file.metadata.format !== OPTIMIZER_FORMAT)
    throw new ArgumentError(
      `loadModel: ${path} is not a wgsl-nn optimizer file (format ${JSON.stringify(file.metadata.format)})`,
    );
  let compile: Record<string, unknown>;
  try {
    compile = JSON.parse(file.metadata.compile ?? '');
  } catch (e) {
    throw new ArgumentError(`loadModel: the compile config in ${path} is not JSON: ${(e as Error).message}`);
  }
  const optimizer = optimizerFromConfig(compile.optimizer as Record<string, unknown>, 'loadModel');
  model.compile({ ...(compile as unknown as CompileArgs), optimizer });
  restoreOptimizerState(
    model,
    file.tensors,
    Number(file.metadata.iterations ?? 0),
    file.metadata.optimizerState,
  );
}
