import { toFloat32 } from '../io/safetensors.js';
import { tensor } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Callback } from './callbacks.js';
import type { Model } from './model.js';
import { assignWeights } from './weights.js';

/**
 * Training checkpoints (Node): the model's weights plus the optimizer's slot variables, step
 * count and scalar state (`getState`) in one safetensors file, written atomically (temp file + rename), so an interrupted save
 * leaves the previous checkpoint loadable. `fit(..., { initialEpoch })` after `loadCheckpoint`
 * continues the same run.
 */

const SLOT = '__optimizer__/';

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
  const map = new Map<string, Tensor>();
  for (const v of model.weights) map.set(v.name!, v);
  const trainable = model.trainableWeights;
  model.optimizer.slotVariables(trainable).forEach((slots, i) => {
    slots.forEach((s, k) => {
      map.set(`${SLOT}${trainable[i].name}/${k}`, s);
    });
  });
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
    tensors: new Map([...file.tensors].filter(([n]) => !n.startsWith(SLOT))),
  };
  assignWeights(model.weights, weights, { source: path });
  const slotFile = {
    metadata: file.metadata,
    tensors: new Map([...file.tensors].filter(([n]) => n.startsWith(SLOT))),
  };
  const slots = new Map<string, Tensor>();
  for (const [name, e] of slotFile.tensors) slots.set(name, tensor(toFloat32(e), e.shape));
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
      if (vals) model.optimizer.setSlots(w, vals);
    }
  } finally {
    for (const t of slots.values()) t.dispose();
  }
  model.optimizer.iterations = Number(file.metadata.iterations ?? 0);
  if (file.metadata.optimizerState) model.optimizer.setState(JSON.parse(file.metadata.optimizerState));
  return Number(file.metadata.epoch ?? 0);
}

/** Keras-style `ModelCheckpoint`: saves a checkpoint after every epoch (`path` may use `{epoch}`). */
export function modelCheckpoint(model: Model, path: string): Callback {
  checkModelAndPath(model, path, 'modelCheckpoint');
  return {
    onEpochEnd: async (epoch) => {
      await saveCheckpoint(model, path.replaceAll('{epoch}', String(epoch + 1)), epoch + 1);
    },
  };
}
