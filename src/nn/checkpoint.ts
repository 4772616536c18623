import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Callback } from './callbacks.js';
import type { Model } from './model.js';
import { isSlotName, optimizerStateTensors, restoreOptimizerState } from './training-state.js';
import { assignWeights } from './weights.js';

/**
 * Training checkpoints (Node): the model's weights plus the optimizer's slot variables, step
 * count and scalar state (`getState`) in one safetensors file, written atomically (temp file + rename), so an interrupted save
 * leaves the previous checkpoint loadable. `fit(..., { initialEpoch })` after `loadCheckpoint`
 * continues the same run.
 */

function checkModelAndPath(model: unknown, path: unknown, who: string): void {
  if (model === null || typeof model !== 'object' || !('optimizer' in model) || !('weights' in model))
    throw new ArgumentError(`${who}: model must be a Model (Sequential or functional), got ${typeof model}`);
  if (typeof path !== 'string' || path === '')
    throw new ArgumentError(`${who}: path must be a non-empty string, got ${JSON.stringify(path)}`);
}

/** Writes the model's weights, the optimizer's state and `epoch` to `path` atomically (what `modelCheckpoint` does after each epoch). */
export async function saveCheckpoint(model: Model, path: string, epoch: number): Promise<void> {
  checkModelAndPath(model, path, 'saveCheckpoint');
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new ArgumentError(`saveCheckpoint: epoch must be an integer >= 0, got ${JSON.stringify(epoch)}`);
  if (!model.optimizer)
    throw new ArgumentError('saveCheckpoint: the model is not compiled (no optimizer to save)');
  const io = await import('../io/weights-file.js');
  const map = new Map(model.weights.map((v) => [v.name!, v as Tensor]));
  for (const [k, s] of optimizerStateTensors(model)) map.set(k, s);
  await io.saveTensorsFile(path, map, {
    format: 'wgsl-nn-checkpoint/1',
    epoch: String(epoch),
    iterations: String(model.optimizer.iterations),
    optimizer: JSON.stringify(model.optimizer.getConfig()),
    optimizerState: JSON.stringify(model.optimizer.getState()),
  });
}

/** Restores weights and optimizer state saved by `saveCheckpoint`; returns the epoch to resume from. */
export async function loadCheckpoint(model: Model, path: string): Promise<number> {
  checkModelAndPath(model, path, 'loadCheckpoint');
  if (!model.optimizer)
    throw new ArgumentError(
      'loadCheckpoint: compile the model first (the optimizer state is restored into it)',
    );
  const io = await import('../io/weights-file.js');
  const file = await io.readSafetensorsFile(path);
  if (file.metadata.format !== 'wgsl-nn-checkpoint/1') {
    throw new ArgumentError(
      `loadCheckpoint: ${path} is not a wgsl-nn checkpoint (format ${JSON.stringify(file.metadata.format)})`,
    );
  }
  const weights = {
    metadata: file.metadata,
    tensors: new Map([...file.tensors].filter(([n]) => !isSlotName(n))),
  };
  assignWeights(model.weights, weights, { source: path });
  restoreOptimizerState(
    model,
    file.tensors,
    Number(file.metadata.iterations ?? 0),
    file.metadata.optimizerState,
  );
  return Number(file.metadata.epoch ?? 0);
}

/**
 * Saves a training checkpoint (`saveCheckpoint`: weights, optimizer state, epoch) after every epoch;
 * `path` may use `{epoch}`. Kept for existing code: the Keras-style class is `ModelCheckpoint`
 * (`new ModelCheckpoint({ filepath, saveBestOnly })`), which saves models or weights.
 */
export function modelCheckpoint(model: Model, path: string): Callback {
  checkModelAndPath(model, path, 'modelCheckpoint');
  return {
    onEpochEnd: async (epoch) => {
      await saveCheckpoint(model, path.replaceAll('{epoch}', String(epoch + 1)), epoch + 1);
    },
  };
}
