import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { getLoss, type LossFn, type LossName } from './losses.js';
import { Metric, type MetricFn } from './metrics.js';
import { getMetric } from './metrics-get.js';

/**
 * Models with several inputs or outputs (Keras functional API): inputs and targets given as one
 * tensor, a list, or an object keyed by input/output layer name; a loss, a loss weight and metrics
 * per output; Keras log names (`loss`, `dense_1_loss`, `dense_1_accuracy`).
 */

/** Tensors keyed by input or output layer name. */
export type TensorMap = { [name: string]: Tensor };
/** One tensor, a list in model order, or an object keyed by layer name (Keras, TF.js). */
export type Tensors = Tensor | Tensor[] | TensorMap;

/** A loss for `compile`: a Keras loss name or a function (yTrue, yPred) -> loss. */
export type LossSpec = LossName | string | LossFn;
/** A metric for `compile`: a Keras metric name, a Metric object or a function (yTrue, yPred) -> value. */
export type MetricSpec = string | MetricFn | Metric;

/** What `compile` resolves for one output. */
export interface OutputSpec {
  /** The output layer's name (log prefix when the model has several outputs). */
  name: string;
  /** The resolved loss function for this output. */
  loss: LossFn;
  /** Weight of this loss in the total loss (`lossWeights`, default 1). */
  weight: number;
  /** The metrics of this output, each with its log name. */
  metrics: CompiledMetric[];
}

/** A metric of one output as `compile` resolved it. */
export interface CompiledMetric {
  /** The log name (prefixed by the output name when the model has several outputs). */
  name: string;
  /** The stateful metric. */
  metric: Metric;
  /** Whether the sample weights apply (Keras: `weightedMetrics` yes, `metrics` no). */
  weighted: boolean;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tensor);
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return `a Tensor ${fmtShape(v.shape)}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v === null) return 'null';
  return typeof v === 'object' ? `an object with keys ${JSON.stringify(Object.keys(v))}` : typeof v;
}

/** Checks that an object's keys are exactly `names`. */
function checkKeys(v: Record<string, unknown>, names: readonly string[], what: string, who: string): void {
  const missing = names.filter((n) => !Object.hasOwn(v, n));
  const extra = Object.keys(v).filter((k) => !names.includes(k));
  if (missing.length || extra.length)
    throw new ArgumentError(
      `${who}: ${what} must be keyed by ${JSON.stringify(names)}, got keys ${JSON.stringify(Object.keys(v))}${missing.length ? ` (missing ${JSON.stringify(missing)})` : ''}${extra.length ? ` (unknown ${JSON.stringify(extra)})` : ''}`,
    );
}

/**
 * `v` as one live tensor per name, in order: a tensor (when there is one name), a list of as many
 * tensors, or an object keyed by the names.
 */
export function tensorList(v: unknown, names: readonly string[], what: string, who: string): Tensor[] {
  let list: unknown[];
  if (v instanceof Tensor) list = [v];
  else if (Array.isArray(v)) list = v;
  else if (isMap(v)) {
    checkKeys(v, names, what, who);
    list = names.map((n) => v[n]);
  } else
    throw new ArgumentError(
      `${who}: ${what} must be a Tensor, a list of Tensors or an object keyed by ${JSON.stringify(names)}, got ${describe(v)}`,
    );
  if (list.length !== names.length)
    throw new ArgumentError(
      `${who}: ${what} must hold ${names.length} tensor(s), one per ${JSON.stringify(names)}, got ${describe(v)}`,
    );
  list.forEach((t, i) => {
    if (!(t instanceof Tensor))
      throw new ArgumentError(`${who}: ${what} '${names[i]}' must be a Tensor, got ${describe(t)}`);
    t.assertAlive(`${who}: ${what} '${names[i]}'`);
  });
  return list as Tensor[];
}

/** The common number of samples (first dimension) of every tensor. */
export function sampleCount(groups: Array<[string, Tensor[]]>, who: string): number {
  const all = groups.flatMap(([what, ts]) => ts.map((t) => [what, t] as const));
  const n = all[0][1].shape[0];
  if (all.some(([, t]) => t.rank === 0 || t.shape[0] !== n))
    throw new ShapeError(
      `${who}: ${groups.map(([what, ts]) => `${what} ${ts.map((t) => fmtShape(t.shape)).join(', ')}`).join(' and ')} must have the same number of samples (first dimension)`,
    );
  return n;
}

/** A per-output setting given once (for every output), as a list, or keyed by output name. */
function perOutput<T>(
  v: unknown,
  names: readonly string[],
  isOne: (x: unknown) => x is T,
  what: string,
  who: string,
): Array<T | undefined> {
  if (v === undefined) return names.map(() => undefined);
  if (isOne(v)) return names.map(() => v);
  if (Array.isArray(v)) {
    if (v.length !== names.length)
      throw new ArgumentError(
        `${who}: ${what} must have one entry per output ${JSON.stringify(names)}, got ${v.length}`,
      );
    return v as T[];
  }
  if (isMap(v)) {
    const extra = Object.keys(v).filter((k) => !names.includes(k));
    if (extra.length)
      throw new ArgumentError(
        `${who}: ${what} names unknown output(s) ${JSON.stringify(extra)}; the outputs are ${JSON.stringify(names)}`,
      );
    return names.map((n) => v[n] as T | undefined);
  }
  throw new ArgumentError(
    `${who}: ${what} must be given once, as a list per output or as an object keyed by ${JSON.stringify(names)}, got ${describe(v)}`,
  );
}

const isLoss = (x: unknown): x is LossSpec => typeof x === 'string' || typeof x === 'function';
const isWeight = (x: unknown): x is number => typeof x === 'number';
const isMetric = (x: unknown): x is MetricSpec =>
  typeof x === 'string' || typeof x === 'function' || x instanceof Metric;

/** `compile`'s metrics (or weightedMetrics) as one list of specs per output. */
function metricLists(metrics: unknown, names: readonly string[], what: string, who: string): MetricSpec[][] {
  const isList = (x: unknown): x is MetricSpec[] => Array.isArray(x) && x.every(isMetric);
  // A flat list applies to every output; otherwise one entry (a metric or a list) per output.
  const raw: unknown[] =
    metrics === undefined || isList(metrics)
      ? names.map(() => metrics ?? [])
      : perOutput(metrics, names, (x): x is never => false, what, who);
  return raw.map((m, i) => {
    if (m === undefined) return [];
    if (isMetric(m)) return [m];
    if (isList(m)) return m;
    throw new ArgumentError(
      `${who}: ${what} for output '${names[i]}' must be a metric name, a Metric, a function or a list of them, got ${describe(m)}`,
    );
  });
}

/**
 * Resolves `compile`'s loss, lossWeights, metrics and weightedMetrics for outputs `names`. The
 * metrics may be a flat list (every output gets it; a Metric object then only fits one output), a
 * list of lists (one per output) or an object keyed by output name. Weighted metrics whose name a
 * plain metric already has log as `weighted_<name>` (Keras 3).
 */
export function resolveOutputs(
  names: readonly string[],
  loss: unknown,
  lossWeights: unknown,
  metrics: unknown,
  who = 'compile',
  weightedMetrics?: unknown,
): OutputSpec[] {
  const losses = perOutput(loss, names, isLoss, 'loss', who);
  const weights = perOutput(lossWeights, names, isWeight, 'lossWeights', who);
  const plain = metricLists(metrics, names, 'metrics', who);
  const weighted = metricLists(weightedMetrics, names, 'weightedMetrics', who);
  const seen = new Set<Metric>();
  const resolve = (m: MetricSpec): Metric => {
    const r = getMetric(m, who);
    if (seen.has(r))
      throw new ArgumentError(
        `${who}: the Metric object '${r.name}' is given twice (metrics hold state: give each output its own)`,
      );
    seen.add(r);
    return r;
  };
  return names.map((name, i) => {
    const l = losses[i];
    if (l === undefined)
      throw new ArgumentError(
        `${who}: no loss for output '${name}'; the outputs are ${JSON.stringify(names)}`,
      );
    const w = weights[i] ?? 1;
    if (!Number.isFinite(w) || w < 0)
      throw new ArgumentError(
        `${who}: lossWeights for output '${name}' must be a finite number >= 0, got ${JSON.stringify(weights[i])}`,
      );
    const prefix = names.length > 1 ? `${name}_` : '';
    const compiled: CompiledMetric[] = plain[i].map((m) => {
      const metric = resolve(m);
      return { name: prefix + metric.name, metric, weighted: false };
    });
    const plainNames = new Set(compiled.map((c) => c.name));
    for (const m of weighted[i]) {
      const metric = resolve(m);
      const n = plainNames.has(prefix + metric.name)
        ? `${prefix}weighted_${metric.name}`
        : prefix + metric.name;
      compiled.push({ name: n, metric, weighted: true });
    }
    return { name, loss: getLoss(l, who), weight: w, metrics: compiled };
  });
}
