import type { Source } from '../io/resource.js';
import { add } from '../kernels/binary.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../tensor/variable.js';
import type { Batch, BatchSource, MultiBatch } from './batches.js';
import type { History } from './callbacks.js';
import type { SaveOptions } from './export.js';
import { type EvaluateArgs, evaluate, type PredictArgs, predict } from './inference.js';
import { type CallArgs, Layer, type LayerArgs, type LayerWeight, type SymShape } from './layer.js';
import type { LossFn, LossName } from './losses.js';
import type { MetricFn } from './metrics.js';
import {
  type CompiledMetric,
  type LossSpec,
  type MetricSpec,
  type OutputSpec,
  resolveOutputs,
  type Tensors,
} from './multi-io.js';
import { predictOnBatch, testOnBatch, trainOnBatch } from './on-batch.js';
import type { Optimizer } from './optimizers.js';
import { getOptimizer, type OptimizerName } from './optimizers-more.js';
import { loadModelWeights, saveModelWeights } from './saving.js';
import { stepMetricsOf } from './step-metrics.js';
import { summaryLines } from './summary.js';
import { type FitArgs, fit } from './training.js';

/** Options of `model.compile` (Keras `compile`). */
export interface CompileArgs {
  /** An optimizer, or the name of one with its defaults. */
  optimizer: Optimizer | OptimizerName;
  /** One loss (for every output), or one per output as a list or an object keyed by output name. */
  loss: LossName | string | LossFn | Array<LossName | string | LossFn> | Record<string, LossSpec>;
  /** Weights of the per-output losses in the total (default 1 each): a list or keyed by output name. */
  lossWeights?: number[] | Record<string, number>;
  /**
   * Metrics: a list (for every output), a list of lists (one per output) or an object keyed by
   * output name. With several outputs they log as `<output>_<metric>`.
   */
  metrics?:
    | Array<string | MetricFn>
    | Array<MetricSpec | MetricSpec[]>
    | Record<string, MetricSpec | MetricSpec[]>;
  /**
   * Metrics that the sample weights (and class weights) apply to (Keras 3 `weighted_metrics`; the
   * plain `metrics` ignore them). Same forms as `metrics`; a name already in `metrics` logs as
   * `weighted_<name>`.
   */
  weightedMetrics?:
    | Array<string | MetricFn>
    | Array<MetricSpec | MetricSpec[]>
    | Record<string, MetricSpec | MetricSpec[]>;
}

const COMPILE_KEYS: OptionKeys<CompileArgs> = {
  optimizer: true,
  loss: true,
  lossWeights: true,
  metrics: true,
  weightedMetrics: true,
};

/**
 * A layer made of layers, with Keras' training API (`compile`, `fit`, `evaluate`, `predict`,
 * `summary`). Usable as a layer inside another model.
 */
export abstract class Model extends Layer {
  /** The optimizer set by `compile`. */
  optimizer?: Optimizer;
  /** The loss set by `compile`. */
  loss?: LossFn;
  /** The metrics of the first output set by `compile`, with their log names and their state. */
  metrics: CompiledMetric[] = [];
  /** Loss, loss weight and metrics of each output, as `compile` resolved them. */
  outputSpecs: OutputSpec[] = [];
  /** The arguments `compile` was last called with (saved with the model when they are names). */
  compileArgs?: CompileArgs;
  /**
   * Set by a callback to stop `fit` (Keras `model.stop_training`): checked after each step, so the
   * epoch ends there; its validation and `onEpochEnd` still run.
   */
  stopTraining = false;

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  /** The layers, in order (for summaries and weight lookup). */
  abstract get layers(): Layer[];

  override get trainable(): boolean {
    return super.trainable;
  }

  /** Freezes or unfreezes every layer (Keras `model.trainable = false`). */
  override set trainable(value: boolean) {
    super.trainable = value;
    for (const l of this.layers ?? []) l.trainable = value;
  }

  override get weightEntries(): readonly LayerWeight[] {
    return this.layers.flatMap((l) => l.weightEntries);
  }

  override get weights(): Variable[] {
    return this.layers.flatMap((l) => l.weights);
  }

  override get trainableWeights(): Variable[] {
    return this.trainable ? this.layers.flatMap((l) => l.trainableWeights) : [];
  }

  override get nonTrainableWeights(): Variable[] {
    return this.trainable ? this.layers.flatMap((l) => l.nonTrainableWeights) : this.weights;
  }

  /** The sum of every layer's regularization penalty (nested models included), or undefined. */
  override regularizationLoss(): Tensor | undefined {
    let total: Tensor | undefined;
    for (const l of this.layers) {
      const p = l.regularizationLoss();
      if (p) total = total ? add(total, p) : p;
    }
    return total;
  }

  override countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /** Finds a layer by name (Keras `model.get_layer`). */
  getLayer(name: string): Layer {
    const l = this.layers.find((x) => x.name === name);
    if (!l) {
      throw new ArgumentError(
        `getLayer: no layer named '${name}' in model '${this.name}' (layers: ${this.layers.map((x) => x.name).join(', ')})`,
      );
    }
    return l;
  }

  /** The names of the model's inputs (keys of `{ name: tensor }` inputs). */
  get inputNames(): string[] {
    return [this.layers[0]?.name ?? this.name];
  }

  /** The names of the model's outputs (Keras `output_names`). */
  get outputNames(): string[] {
    return [this.layers[this.layers.length - 1]?.name ?? this.name];
  }

  /** Every output for concrete inputs, as a list (one entry for single-output models). */
  applyOutputs(inputs: Tensor | Tensor[], args: CallArgs = {}): Tensor[] {
    return [this.apply(inputs, args)];
  }

  /** Sets the optimizer, loss and metrics for `fit` and `evaluate` (Keras `compile`). */
  compile(args: CompileArgs): void {
    if (!args || typeof args !== 'object')
      throw new ArgumentError('compile: expected { optimizer, loss, metrics? }');
    checkOptions(args, COMPILE_KEYS, 'compile');
    for (const k of ['metrics', 'weightedMetrics'] as const) {
      const m = args[k];
      if (m !== undefined && (m === null || typeof m !== 'object'))
        throw new ArgumentError(`compile: ${k} must be an array or an object, got ${JSON.stringify(m)}`);
    }
    const specs = resolveOutputs(
      this.outputNames,
      args.loss,
      args.lossWeights,
      args.metrics,
      'compile',
      args.weightedMetrics,
    );
    this.optimizer = getOptimizer(args.optimizer);
    this.outputSpecs = specs;
    this.loss = specs[0].loss;
    this.metrics = specs[0].metrics;
    this.compileArgs = { ...args };
  }

  /** One optimizer step on a batch (Keras `train_on_batch`): the loss, or [loss, ...metrics]. */
  trainOnBatch(x: Tensors, y: Tensors): Promise<number | number[]> {
    return trainOnBatch(this, x, y);
  }

  /** Loss and metrics of a batch in inference mode (Keras `test_on_batch`): the loss, or [loss, ...metrics]. */
  testOnBatch(x: Tensors, y: Tensors): Promise<number | number[]> {
    return testOnBatch(this, x, y);
  }

  /** The outputs for one batch, in inference mode (Keras `predict_on_batch`); synchronous. */
  predictOnBatch<T extends Tensor | Tensor[] = Tensor>(x: Tensors): T {
    return predictOnBatch(this, x) as T;
  }

  /** Clears the loss trackers and the metrics' state (Keras `reset_metrics`). */
  resetMetrics(): void {
    stepMetricsOf(this.outputSpecs).reset();
  }

  /**
   * Trains on tensors (x, y) or on a dataset of `{ xs, ys }` batches; returns the per-epoch History.
   * With several inputs or outputs, x and y are lists (model order) or objects keyed by layer name.
   */
  fit(x: Tensors, y: Tensors, args?: FitArgs): Promise<History>;
  fit(dataset: BatchSource, args?: FitArgs): Promise<History>;
  fit(x: Tensors | BatchSource, y?: Tensors | FitArgs, args?: FitArgs): Promise<History> {
    return fit(this, x, y, args);
  }

  /** Loss and metrics in inference mode, e.g. `{ loss: 0.31, accuracy: 0.9 }`. */
  evaluate(x: Tensors, y: Tensors, args?: EvaluateArgs): Promise<Record<string, number>>;
  evaluate(dataset: BatchSource, args?: EvaluateArgs): Promise<Record<string, number>>;
  evaluate(
    x: Tensors | BatchSource,
    y?: Tensors | EvaluateArgs,
    args?: EvaluateArgs,
  ): Promise<Record<string, number>> {
    return evaluate(this, x, y, args);
  }

  /**
   * Outputs for `x` (tensors, or an async iterable of tensors or batches), computed in batches. A
   * model with several outputs resolves to a list: `await m.predict<Tensor[]>(x)`.
   */
  predict<T extends Tensor | Tensor[] = Tensor>(
    x: Tensors | AsyncIterable<Tensor | Tensor[] | Batch | MultiBatch>,
    args?: PredictArgs,
  ): Promise<T> {
    return predict(this, x, args) as Promise<T>;
  }

  /** Saves the weights as safetensors at `path` and the model config as JSON beside it (Node). */
  saveWeights(path: string): Promise<void> {
    return saveModelWeights(this, path);
  }

  /** Loads weights saved by `saveWeights` (or any safetensors file with `layer/weight` names). */
  loadWeights(path: Source, opts: { strict?: boolean } = {}): Promise<void> {
    return loadModelWeights(this, path, opts);
  }

  /**
   * Saves the model: `{ format: 'wgsl-nn' }` (default: model.json + model.safetensors), `'tfjs'`
   * (a TensorFlow.js LayersModel folder) or `'keras'` (a Keras 3 `.keras` file). Node only. Saved to
   * a folder in our format, a compiled model also gets its optimizer state and compile config
   * (`includeOptimizer`, default true), so `loadModel(dir)` returns it compiled and `fit` continues.
   */
  async save(target: string, opts: SaveOptions = {}): Promise<void> {
    const { saveModel } = await import('./export.js');
    return saveModel(this, target, opts);
  }

  /** Prints (and returns) a Keras-like table: layer, output shape, params; totals. */
  summary(printFn: (line: string) => void = console.log): string[] {
    const lines = summaryLines(this);
    for (const l of lines) printFn(l);
    return lines;
  }

  override dispose(): void {
    for (const l of this.layers) l.dispose();
    this.optimizer?.dispose();
    this.built = false;
  }

  /** The input shape with batch dimension, when known. */
  abstract get inputShape(): SymShape | undefined;
  /** The output shape (batch dimension null), once built. */
  abstract get outputShape(): SymShape | undefined;
}
