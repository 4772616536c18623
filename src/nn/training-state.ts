import { type SafetensorsEntry, toFloat32 } from '../io/safetensors.js';
import { tensor } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CompileArgs, Model } from './model.js';
import type { Optimizer } from './optimizers.js';
import * as optimizers from './optimizers.js';

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

/** Puts saved slot values (entries named by `optimizerStateTensors`) and the step count into the model's optimizer. */
export function restoreOptimizerState(
  model: Model,
  entries: ReadonlyMap<string, SafetensorsEntry>,
  iterations: number,
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
 * An optimizer from its `getConfig()` (`{ name, learningRate, ... }`): the class of that name in
 * optimizers.ts, built with the other entries as its options; an `ExponentialDecay` rate is rebuilt.
 */
export function optimizerFromConfig(config: Record<string, unknown>, who = 'optimizerFromConfig'): Optimizer {
  const { name, ...rest } = config ?? {};
  const classes = optimizers as unknown as Record<string, unknown>;
  const Cls = typeof name === 'string' && Object.hasOwn(classes, name) ? classes[name] : undefined;
  if (typeof Cls !== 'function' || !(Cls.prototype instanceof optimizers.Optimizer))
    throw new ArgumentError(`${who}: unknown optimizer ${JSON.stringify(name)} in the saved compile config`);
  const lr = rest.learningRate;
  if (lr !== null && typeof lr === 'object') {
    const { name: kind, ...sched } = lr as Record<string, unknown>;
    if (kind !== 'ExponentialDecay')
      throw new ArgumentError(`${who}: cannot rebuild the learning-rate schedule ${JSON.stringify(kind)}`);
    rest.learningRate = optimizers.exponentialDecay(sched as unknown as optimizers.ExponentialDecayArgs);
  }
  return new (Cls as new (a: Record<string, unknown>) => Optimizer)(rest);
}

/** Writes the optimizer state and compile config of `model` to `path` (atomically). */
export async function saveTrainingState(model: Model, path: string): Promise<void> {
  const compile = compileConfigOf(model);
  if (!compile) return;
  const io = await import('../io/weights-file.js');
  await io.saveTensorsFile(path, optimizerStateTensors(model), {
    format: OPTIMIZER_FORMAT,
    iterations: String(model.optimizer!.iterations),
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
  restoreOptimizerState(model, file.tensors, Number(file.metadata.iterations ?? 0));
}
