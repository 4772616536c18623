import { variableGrads } from '../autograd/grad.js';
import { slice } from '../kernels/slice.js';
import { nextSeedValue } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  type BatchSource,
  type ClassWeight,
  checkClassWeight,
  checkData,
  checkSink,
  checkVerbose,
  classSampleWeights,
  disposeBatch,
  isBatchSource,
  type Lists,
  listBatches,
  permutation,
  requireCompiled,
  tensorBatches,
} from './batches.js';
import { type Callback, checkCallbacks, History, type Logs } from './callbacks.js';
import {
  checkValidationFreq,
  EpochBatches,
  shouldValidate,
  takeBatches,
  type ValidationFreq,
} from './epoch-steps.js';
import { evaluateBatches } from './inference.js';
import { checkPositiveInt } from './layer.js';
import type { Model } from './model.js';
import type { Tensors } from './multi-io.js';
import type { LogSink } from './progress.js';
import { ProgressBar, type Verbose } from './progress.js';
import { batchStep, readStep, stepMetricsOf } from './step-metrics.js';

export type { Batch, BatchSource, MultiBatch } from './batches.js';

/** Options of `model.fit` (Keras `fit`, camelCase). */
export interface FitArgs {
  /** Passes over the data (default 1). */
  epochs?: number;
  /** Samples per step when fitting tensors (default 32; a dataset brings its own batches). */
  batchSize?: number;
  /** Fraction of the (tensor) data held out for validation: the last samples, as Keras. */
  validationSplit?: number;
  /** [x, y] or [x, y, sampleWeight] (x, y each a tensor, a list or an object keyed by layer name) or a dataset. */
  validationData?: [Tensors, Tensors] | [Tensors, Tensors, Tensor] | BatchSource;
  /** Shuffle tensor data each epoch (default true). */
  shuffle?: boolean;
  /** Seed of the per-epoch shuffles (default: the global sequence, see `setSeed`). */
  seed?: number;
  /** Called at the start and end of training, epochs and batches. */
  callbacks?: Callback[];
  /** 0 silent, 1 progress bar, 2 one line per epoch; 'auto' (default) is 1 on a terminal, else 2. */
  verbose?: Verbose;
  /** The epoch to start at (to resume training; default 0). */
  initialEpoch?: number;
  /** Where the log goes (default: process.stdout). */
  logSink?: LogSink;
  /**
   * Batches per epoch. The pass over the data then carries on into the next epoch and a new pass
   * starts when it runs out (Keras 3): tensors are re-shuffled, a dataset is iterated again. An
   * epoch ends early when its pass runs out. Without it, each epoch is one full pass.
   */
  stepsPerEpoch?: number;
  /** Validate after every N-th epoch (default 1), or after the listed epochs (1-based), as Keras. */
  validationFreq?: ValidationFreq;
  /** Batches of the validation data per validation (default: all of it). */
  validationSteps?: number;
  /**
   * Per-sample weights `[n]` for tensor data (Keras `sample_weight`): they weight the loss
   * (sum(l_i w_i) / batch size) and the `weightedMetrics`. A dataset's batches bring their own
   * (`{ xs, ys, sampleWeight }`).
   */
  sampleWeight?: Tensor;
  /**
   * Class index -> weight (Keras `class_weight`; single-output models): each sample weighs its
   * class's weight (integer label, or argmax of a one-hot label; unlisted classes weigh 1). Not
   * together with sample weights.
   */
  classWeight?: ClassWeight;
}

const FIT_KEYS: OptionKeys<FitArgs> = {
  epochs: true,
  batchSize: true,
  validationSplit: true,
  validationData: true,
  shuffle: true,
  seed: true,
  callbacks: true,
  verbose: true,
  initialEpoch: true,
  logSink: true,
  stepsPerEpoch: true,
  validationFreq: true,
  validationSteps: true,
  sampleWeight: true,
  classWeight: true,
};

/**
 * One optimisation step on a batch (with its sample weights `b.sw`, if any); the loss and metrics
 * are added to the model's metric state (one readback) and the running values are returned, as
 * Keras' logs at each step. `model.resetMetrics()` starts them afresh.
 */
export async function trainStep(model: Model, b: Lists): Promise<Record<string, number>> {
  const vars = model.trainableWeights;
  let parts: Tensor[] = [];
  const { value, grads } = variableGrads(() => {
    const st = batchStep(model, b, true);
    parts = st.parts.map((t) => keep(t));
    return st.loss;
  }, vars);
  try {
    model.optimizer!.applyGradients(grads);
  } finally {
    for (const g of grads.values()) g.dispose();
  }
  const sm = stepMetricsOf(model.outputSpecs);
  await readStep(sm, value, parts, b.xs[0].shape[0]);
  return sm.logs();
}

export async function fit(
  model: Model,
  x: Tensors | BatchSource,
  y: Tensors | FitArgs | undefined,
  argsIn?: FitArgs,
): Promise<History> {
  const who = 'fit';
  requireCompiled(model, who);
  const fromDataset = isBatchSource(x);
  const args: FitArgs = (fromDataset ? (y as FitArgs | undefined) : argsIn) ?? {};
  checkOptions(args, FIT_KEYS, who);
  const epochs = checkPositiveInt(args.epochs ?? 1, 'epochs', who);
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', who);
  const initialEpoch = args.initialEpoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0)
    throw new ArgumentError(
      `${who}: initialEpoch must be an integer >= 0, got ${JSON.stringify(initialEpoch)}`,
    );
  if (args.seed !== undefined && !Number.isInteger(args.seed))
    throw new ArgumentError(`${who}: seed must be an integer, got ${JSON.stringify(args.seed)}`);
  if (args.shuffle !== undefined && typeof args.shuffle !== 'boolean')
    throw new ArgumentError(`${who}: shuffle must be a boolean, got ${JSON.stringify(args.shuffle)}`);
  if (args.stepsPerEpoch !== undefined) checkPositiveInt(args.stepsPerEpoch, 'stepsPerEpoch', who);
  const sink = checkSink(args.logSink, who);
  const verbose = checkVerbose(args.verbose ?? 'auto', who);
  const mode: 0 | 1 | 2 = verbose === 'auto' ? (sink.isTTY ? 1 : 2) : verbose;
  const callbacks = checkCallbacks(args.callbacks ?? [], who);
  const validationFreq = checkValidationFreq(args.validationFreq, who);
  if (args.validationSteps !== undefined) checkPositiveInt(args.validationSteps, 'validationSteps', who);

  let classTable: Float32Array | undefined;
  if (args.classWeight !== undefined) {
    classTable = checkClassWeight(args.classWeight, who);
    if (model.outputNames.length > 1)
      throw new ArgumentError(`${who}: classWeight is only supported for models with a single output`);
    if (args.sampleWeight !== undefined)
      throw new ArgumentError(`${who}: give classWeight or sampleWeight, not both (Keras)`);
  }
  if (fromDataset && args.sampleWeight !== undefined)
    throw new ArgumentError(
      `${who}: sampleWeight is for tensor data; a dataset's batches bring their own ({ xs, ys, sampleWeight })`,
    );

  let train: Lists | undefined;
  let valData: Lists | BatchSource | undefined;
  const owned: Tensor[] = [];
  if (!fromDataset) {
    if (y === undefined) throw new ArgumentError(`${who}: y is required when x is not a dataset`);
    train = checkData(model, x, y, who, undefined, args.sampleWeight);
    if (classTable) {
      train = { ...train, sw: classSampleWeights(classTable, train.ys[0]) };
      owned.push(train.sw!);
    }
    const split = args.validationSplit ?? 0;
    if (typeof split !== 'number' || split < 0 || split >= 1) {
      throw new ArgumentError(`${who}: validationSplit must be in [0, 1), got ${JSON.stringify(split)}`);
    }
    if (split > 0) {
      const n = train.xs[0].shape[0];
      const nTrain = Math.floor(n * (1 - split));
      if (nTrain < 1 || nTrain >= n)
        throw new ArgumentError(
          `${who}: validationSplit ${split} leaves no training or validation samples out of ${n}`,
        );
      const cut = (s: number, len: number) => (t: Tensor) =>
        slice(t, [s, ...t.shape.slice(1).map(() => 0)], [len, ...t.shape.slice(1)]);
      const all = train;
      train = { xs: all.xs.map(cut(0, nTrain)), ys: all.ys.map(cut(0, nTrain)) };
      valData = { xs: all.xs.map(cut(nTrain, n - nTrain)), ys: all.ys.map(cut(nTrain, n - nTrain)) };
      owned.push(...train.xs, ...train.ys, ...valData.xs, ...valData.ys);
      if (all.sw) {
        // Keras splits the sample weights too (class weights do not apply to validation).
        train.sw = cut(0, nTrain)(all.sw);
        owned.push(train.sw);
        if (!classTable) {
          valData.sw = cut(nTrain, n - nTrain)(all.sw);
          owned.push(valData.sw);
        }
      }
    }
  } else if (args.validationSplit) {
    throw new ArgumentError(
      `${who}: validationSplit is only supported for tensor inputs; split the dataset (imageDatasetFromDirectory subset) instead`,
    );
  }
  if (args.validationData !== undefined && valData === undefined) {
    const v = args.validationData;
    if (isBatchSource(v)) valData = v;
    else if (Array.isArray(v) && (v.length === 2 || v.length === 3))
      valData = checkData(model, v[0], v[1], `${who}: validationData`, undefined, v[2]);
    else
      throw new ArgumentError(
        `${who}: validationData must be [x, y], [x, y, sampleWeight] or a dataset of { xs, ys } batches, got ${v === null ? 'null' : typeof v}`,
      );
  }

  const history = new History();
  const nTrain = train?.xs[0].shape[0];
  const passSteps = nTrain !== undefined ? Math.ceil(nTrain / batchSize) : undefined;
  const steps =
    args.stepsPerEpoch !== undefined && passSteps !== undefined
      ? Math.min(args.stepsPerEpoch, passSteps)
      : (args.stepsPerEpoch ?? passSteps);
  history.params = { epochs, steps, batchSize, verbose: mode, doValidation: valData !== undefined };
  for (const c of callbacks) {
    c.setModel?.(model);
    c.setParams?.(history.params);
  }
  const shuffle = args.shuffle ?? true;
  const batches = new EpochBatches(
    (epoch) =>
      train
        ? tensorBatches(
            train,
            batchSize,
            shuffle
              ? permutation(
                  train.xs[0].shape[0],
                  args.seed !== undefined ? (args.seed + epoch * 7919) >>> 0 : nextSeedValue(),
                )
              : undefined,
          )
        : listBatches(model, x as BatchSource, who),
    args.stepsPerEpoch,
  );
  model.stopTraining = false;
  let lastLogs: Logs = {};
  try {
    for (const c of callbacks) await c.onTrainBegin?.();
    for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
      for (const c of callbacks) await c.onEpochBegin?.(epoch);
      if (mode > 0) sink.write(`Epoch ${epoch + 1}/${epochs}\n`);
      const bar = mode > 0 ? new ProgressBar(steps, sink, mode as 1 | 2) : undefined;
      const metrics = stepMetricsOf(model.outputSpecs);
      metrics.reset();
      let step = 0;
      for await (const b of batches.epoch(epoch)) {
        for (const c of callbacks) await c.onBatchBegin?.(step);
        let logs: Record<string, number>;
        try {
          if (classTable && !train) {
            if (b.sw)
              throw new ArgumentError(`${who}: give classWeight or batch sample weights, not both (Keras)`);
            b.sw = classSampleWeights(classTable, b.ys[0]);
          }
          logs = await trainStep(model, b);
        } finally {
          disposeBatch(b);
        }
        step++;
        bar?.update(step, logs);
        for (const c of callbacks) await c.onBatchEnd?.(step - 1, logs);
        if (model.stopTraining) break; // Keras 3: a callback may stop mid-epoch (TerminateOnNaN)
      }
      const epochLogs = metrics.logs();
      if (valData && shouldValidate(epoch, validationFreq)) {
        const src = isBatchSource(valData)
          ? listBatches(model, valData, `${who}: validationData`)
          : tensorBatches(valData, batchSize);
        const val = await evaluateBatches(model, takeBatches(src, args.validationSteps));
        Object.assign(epochLogs, prefixed(val, 'val_'));
      }
      bar?.finish(step, epochLogs);
      for (const c of callbacks) await c.onEpochEnd?.(epoch, epochLogs);
      history.record(epoch, epochLogs); // after the callbacks, which may add entries (learning_rate)
      lastLogs = epochLogs;
    }
    for (const c of callbacks) await c.onTrainEnd?.(lastLogs);
  } finally {
    await batches.close();
    for (const t of owned) t.dispose();
  }
  return history;
}

function prefixed(logs: Record<string, number>, p: string): Record<string, number> {
  return Object.fromEntries(Object.entries(logs).map(([k, v]) => [p + k, v]));
}
