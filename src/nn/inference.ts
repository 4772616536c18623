import { concat } from '../kernels/concat.js';
import { ArgumentError, ShapeError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import {
  type Batch,
  type BatchSource,
  checkData,
  checkSink,
  checkVerbose,
  disposeBatch,
  forward,
  isBatchSource,
  type Lists,
  listBatches,
  type MultiBatch,
  requireCompiled,
  tensorBatches,
} from './batches.js';
import { checkPositiveInt } from './layer.js';
import type { Model } from './model.js';
import { type Tensors, tensorList } from './multi-io.js';
import { fmtLogs, type LogSink, type Verbose } from './progress.js';
import { batchStep, readStep, stepMetricsOf } from './step-metrics.js';

/** evaluate and predict: the model over batches in inference mode. */

/**
 * The loss and metrics over a source of batches (inference mode, sample weights `b.sw` applied):
 * the model's metric state is reset first, then every batch is added (one readback each); returns
 * the values over all batches.
 */
export async function evaluateBatches(
  model: Model,
  source: AsyncIterable<Lists>,
): Promise<Record<string, number>> {
  const sm = stepMetricsOf(model.outputSpecs);
  sm.reset();
  for await (const b of source) {
    try {
      const [loss, ...parts] = tidy(() => {
        const st = batchStep(model, b, false);
        return [st.loss, ...st.parts];
      });
      await readStep(sm, loss, parts, b.xs[0].shape[0]);
    } finally {
      disposeBatch(b);
    }
  }
  return sm.logs();
}

/** Options of `model.evaluate`. */
export interface EvaluateArgs {
  /** Samples per step when evaluating tensors (default 32). */
  batchSize?: number;
  /** Progress output (default 0: silent). */
  verbose?: Verbose;
  /** Where the log goes (default: process.stdout). */
  logSink?: LogSink;
  /** Per-sample weights `[n]` for tensor data (the loss and the `weightedMetrics`; Keras `sample_weight`). */
  sampleWeight?: Tensor;
}

const EVALUATE_KEYS: OptionKeys<EvaluateArgs> = {
  batchSize: true,
  verbose: true,
  logSink: true,
  sampleWeight: true,
};

/** Loss and metrics over all samples (Keras semantics: metric values over the whole data), as `{ loss, accuracy }`. */
export async function evaluate(
  model: Model,
  x: Tensors | BatchSource,
  y?: Tensors | EvaluateArgs,
  argsIn?: EvaluateArgs,
): Promise<Record<string, number>> {
  requireCompiled(model, 'evaluate');
  const fromDataset = isBatchSource(x);
  const args = (fromDataset ? (y as EvaluateArgs | undefined) : argsIn) ?? {};
  checkOptions(args, EVALUATE_KEYS, 'evaluate');
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', 'evaluate');
  let src: AsyncIterable<Lists>;
  if (fromDataset) {
    if (args.sampleWeight !== undefined)
      throw new ArgumentError(
        "evaluate: sampleWeight is for tensor data; a dataset's batches bring their own ({ xs, ys, sampleWeight })",
      );
    src = listBatches(model, x, 'evaluate');
  } else {
    if (y === undefined) throw new ArgumentError('evaluate: y is required when x is not a dataset');
    src = tensorBatches(checkData(model, x, y, 'evaluate', undefined, args.sampleWeight), batchSize);
  }
  const verbose = checkVerbose(args.verbose ?? 0, 'evaluate');
  const sink = checkSink(args.logSink, 'evaluate');
  const logs = await evaluateBatches(model, src);
  if (verbose) sink.write(`${fmtLogs(logs).slice(3)}\n`);
  return logs;
}

/** Options of `model.predict`. */
export interface PredictArgs {
  /** Samples per step (default 32). */
  batchSize?: number;
}

const PREDICT_KEYS: OptionKeys<PredictArgs> = { batchSize: true };

/**
 * Runs the model in inference mode over `x` in batches and concatenates the outputs: one tensor,
 * or a list (one per output) for a model with several outputs.
 */
export async function predict(
  model: Model,
  x: Tensors | AsyncIterable<Batch | MultiBatch | Tensor | Tensor[]>,
  args: PredictArgs = {},
): Promise<Tensor | Tensor[]> {
  checkOptions(args, PREDICT_KEYS, 'predict');
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', 'predict');
  const outs: Tensor[][] = [];
  try {
    if (x instanceof Tensor || Array.isArray(x) || !isBatchSource(x)) {
      if (x instanceof Tensor) {
        x.assertAlive('predict: x');
        if (x.rank === 0) throw new ShapeError('predict: x must have a batch dimension, got a scalar');
      } else if (x === null || typeof x !== 'object')
        throw new ArgumentError(
          `predict: x must be a Tensor or an async iterable of tensors or batches (a list or an object of tensors for several inputs), got ${x === null ? 'null' : typeof x}`,
        );
      const data = checkData(model, x, undefined, 'predict');
      for await (const b of tensorBatches(data, batchSize)) {
        outs.push(tidy(() => forward(model, b.xs, false)));
        disposeBatch(b);
      }
    } else {
      for await (const item of x as AsyncIterable<Batch | MultiBatch | Tensor | Tensor[]>) {
        try {
          const given = item instanceof Tensor || Array.isArray(item) ? item : item.xs;
          const xs = tensorList(given, model.inputNames, 'x', 'predict');
          outs.push(tidy(() => forward(model, xs, false)));
        } finally {
          if (item instanceof Tensor) item.dispose();
          else if (Array.isArray(item)) for (const t of item) t.dispose();
          else disposeBatch(item);
        }
      }
    }
    const k = model.outputNames.length;
    const joined = Array.from({ length: k }, (_, i) =>
      outs.length === 1
        ? outs[0][i]
        : concat(
            outs.map((o) => o[i]),
            0,
          ),
    );
    if (outs.length === 1) outs.length = 0;
    return k === 1 ? joined[0] : joined;
  } finally {
    for (const t of outs.flat()) t.dispose();
  }
}
