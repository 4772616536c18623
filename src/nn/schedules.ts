import { ArgumentError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';

/**
 * Learning-rate schedules (Keras `keras.optimizers.schedules`): functions of the step (the
 * optimizer's `iterations`, the number of updates already applied) with their Keras config attached,
 * so an optimizer built with one saves and recreates it (`scheduleFromConfig`).
 */

/** Learning rate as a function of the step (0-based count of updates already applied). */
export interface LearningRateSchedule {
  (step: number): number;
  /** The schedule's Keras config (saved with the optimizer), when it has one. */
  config?: Record<string, unknown>;
}

/** A value for an error message: numbers as JS prints them (Infinity, NaN), the rest as JSON. */
export function fmt(v: unknown): string {
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** Rejects a non-object and unknown keys. */
export function checkArgs<T>(args: unknown, who: string, keys: OptionKeys<T>): void {
  if (args === null || typeof args !== 'object' || Array.isArray(args))
    throw new ArgumentError(`${who}: expected an options object, got ${JSON.stringify(args)}`);
  checkOptions(args, keys, who);
}

function positive(v: unknown, name: string, who: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
    throw new ArgumentError(`${who}: ${name} must be a finite number > 0, got ${fmt(v)}`);
  return v;
}

function nonNegative(v: unknown, name: string, who: string): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))
    throw new ArgumentError(`${who}: ${name} must be a finite number >= 0, got ${fmt(v)}`);
  return v;
}

function bool(v: unknown, name: string, who: string): boolean {
  if (typeof v !== 'boolean') throw new ArgumentError(`${who}: ${name} must be a boolean, got ${fmt(v)}`);
  return v;
}

function withConfig(f: (step: number) => number, config: Record<string, unknown>): LearningRateSchedule {
  const s: LearningRateSchedule = f;
  s.config = config;
  return s;
}

/** Options of `exponentialDecay` (Keras `ExponentialDecay`). */
export interface ExponentialDecayArgs {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** The number of steps over which the rate is multiplied by `decayRate`. */
  decaySteps: number;
  /** The factor per `decaySteps` steps. */
  decayRate: number;
  /** Decay in whole periods (`floor(step / decaySteps)`) instead of continuously (default false). */
  staircase?: boolean;
}

/** The checked options shared by the exponential and inverse-time decays, and the step's period. */
function periodicDecay(
  args: ExponentialDecayArgs | InverseTimeDecayArgs,
  who: string,
  rate: (v: unknown, name: string, who: string) => number,
): { lr0: number; decayRate: number; staircase: boolean; period: (step: number) => number } {
  checkArgs<ExponentialDecayArgs>(args, who, {
    initialLearningRate: true,
    decaySteps: true,
    decayRate: true,
    staircase: true,
  });
  const lr0 = positive(args.initialLearningRate, 'initialLearningRate', who);
  const decaySteps = positive(args.decaySteps, 'decaySteps', who);
  const decayRate = rate(args.decayRate, 'decayRate', who);
  const staircase = bool(args.staircase ?? false, 'staircase', who);
  return {
    lr0,
    decayRate,
    staircase,
    period: (step) => (staircase ? Math.floor(step / decaySteps) : step / decaySteps),
  };
}

/** Keras `ExponentialDecay`: lr = initial * decayRate ^ (step / decaySteps) (floored with staircase). */
export function exponentialDecay(args: ExponentialDecayArgs): LearningRateSchedule {
  const { lr0, decayRate, staircase, period } = periodicDecay(args, 'exponentialDecay', positive);
  return withConfig((step) => lr0 * decayRate ** period(step), {
    name: 'ExponentialDecay',
    ...args,
    staircase,
  });
}

/** Options of `inverseTimeDecay` (Keras `InverseTimeDecay`). */
export interface InverseTimeDecayArgs {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** The steps per unit of decay. */
  decaySteps: number;
  /** How fast the rate falls. */
  decayRate: number;
  /** Decay in whole periods (default false). */
  staircase?: boolean;
}

/** Keras `InverseTimeDecay`: lr = initial / (1 + decayRate * step / decaySteps) (floored with staircase). */
export function inverseTimeDecay(args: InverseTimeDecayArgs): LearningRateSchedule {
  const { lr0, decayRate, staircase, period } = periodicDecay(args, 'inverseTimeDecay', nonNegative);
  return withConfig((step) => lr0 / (1 + decayRate * period(step)), {
    name: 'InverseTimeDecay',
    ...args,
    staircase,
  });
}

/** Options of `polynomialDecay` (Keras `PolynomialDecay`). */
export interface PolynomialDecayArgs {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** The steps to reach `endLearningRate`. */
  decaySteps: number;
  /** The rate at the end (default 0.0001). */
  endLearningRate?: number;
  /** The polynomial's power (default 1: linear). */
  power?: number;
  /** Restart the decay after `decaySteps`, over a multiple of `decaySteps` (default false). */
  cycle?: boolean;
}

/**
 * Keras `PolynomialDecay`: lr = (initial - end) * (1 - step / decaySteps) ^ power + end, with the step
 * capped at `decaySteps`; with `cycle` the horizon is `decaySteps * ceil(step / decaySteps)` instead.
 */
export function polynomialDecay(args: PolynomialDecayArgs): LearningRateSchedule {
  const who = 'polynomialDecay';
  checkArgs<PolynomialDecayArgs>(args, who, {
    initialLearningRate: true,
    decaySteps: true,
    endLearningRate: true,
    power: true,
    cycle: true,
  });
  const lr0 = positive(args.initialLearningRate, 'initialLearningRate', who);
  const decaySteps = positive(args.decaySteps, 'decaySteps', who);
  const end = positive(args.endLearningRate ?? 0.0001, 'endLearningRate', who);
  const power = positive(args.power ?? 1, 'power', who);
  const cycle = bool(args.cycle ?? false, 'cycle', who);
  return withConfig(
    (step) => {
      let horizon = decaySteps;
      let s = step;
      if (cycle) horizon = decaySteps * (step === 0 ? 1 : Math.ceil(step / decaySteps));
      else s = Math.min(step, decaySteps);
      return (lr0 - end) * (1 - s / horizon) ** power + end;
    },
    { name: 'PolynomialDecay', initialLearningRate: lr0, decaySteps, endLearningRate: end, power, cycle },
  );
}

/** Options of `piecewiseConstantDecay` (Keras `PiecewiseConstantDecay`). */
export interface PiecewiseConstantDecayArgs {
  /** Increasing step boundaries. */
  boundaries: number[];
  /** One more value than boundaries: `values[0]` up to and including `boundaries[0]`, and so on. */
  values: number[];
}

/** Keras `PiecewiseConstantDecay`: values[i] for boundaries[i-1] < step <= boundaries[i]. */
export function piecewiseConstantDecay(args: PiecewiseConstantDecayArgs): LearningRateSchedule {
  const who = 'piecewiseConstantDecay';
  checkArgs<PiecewiseConstantDecayArgs>(args, who, { boundaries: true, values: true });
  const { boundaries, values } = args;
  if (
    !Array.isArray(boundaries) ||
    boundaries.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= boundaries[i - 1]))
  )
    throw new ArgumentError(
      `${who}: boundaries must be an array of increasing finite numbers, got ${JSON.stringify(boundaries)}`,
    );
  if (!Array.isArray(values) || values.length !== boundaries.length + 1)
    throw new ArgumentError(
      `${who}: values must be an array of boundaries.length + 1 = ${boundaries.length + 1} numbers, got ${JSON.stringify(values)}`,
    );
  for (const [i, x] of values.entries()) positive(x, `values[${i}]`, who);
  const b = [...boundaries];
  const v = [...values];
  return withConfig(
    (step) => {
      const i = b.findIndex((x) => step <= x);
      return v[i === -1 ? b.length : i];
    },
    { name: 'PiecewiseConstantDecay', boundaries: b, values: v },
  );
}

/** Options of `cosineDecay` (Keras 3 `CosineDecay`). */
export interface CosineDecayArgs {
  /** The learning rate at step 0 (the start of the warmup when there is one). */
  initialLearningRate: number;
  /** The steps of the cosine decay (after the warmup). */
  decaySteps: number;
  /** The floor as a fraction of the decayed-from rate (default 0). */
  alpha?: number;
  /** A name kept in the config. */
  name?: string;
  /** The rate reached at the end of a linear warmup (default: no warmup). */
  warmupTarget?: number;
  /** The steps of the linear warmup (default 0). */
  warmupSteps?: number;
}

/**
 * Keras 3 `CosineDecay`: an optional linear warmup from `initialLearningRate` to `warmupTarget` over
 * `warmupSteps`, then `from * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decaySteps)) + alpha)` with
 * `s` capped at `decaySteps` (from = warmupTarget, or initialLearningRate without a warmup).
 */
export function cosineDecay(args: CosineDecayArgs): LearningRateSchedule {
  const who = 'cosineDecay';
  checkArgs<CosineDecayArgs>(args, who, {
    initialLearningRate: true,
    decaySteps: true,
    alpha: true,
    name: true,
    warmupTarget: true,
    warmupSteps: true,
  });
  const lr0 = nonNegative(args.initialLearningRate, 'initialLearningRate', who);
  const decaySteps = positive(args.decaySteps, 'decaySteps', who);
  const alpha = nonNegative(args.alpha ?? 0, 'alpha', who);
  if (alpha > 1) throw new ArgumentError(`${who}: alpha must be in [0, 1], got ${alpha}`);
  const warmupSteps = nonNegative(args.warmupSteps ?? 0, 'warmupSteps', who);
  const target =
    args.warmupTarget === undefined || args.warmupTarget === null
      ? undefined
      : positive(args.warmupTarget, 'warmupTarget', who);
  if (args.name !== undefined && typeof args.name !== 'string')
    throw new ArgumentError(`${who}: name must be a string, got ${JSON.stringify(args.name)}`);
  if (target === undefined && lr0 === 0)
    throw new ArgumentError(`${who}: initialLearningRate must be > 0 without a warmupTarget, got 0`);
  const decay = (s: number, from: number) =>
    from * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * (s / decaySteps))) + alpha);
  return withConfig(
    (step) => {
      if (target === undefined) return decay(Math.min(step, decaySteps), lr0);
      const s = Math.min(step, decaySteps + warmupSteps);
      if (s < warmupSteps) return (target - lr0) * (s / warmupSteps) + lr0;
      return decay(s - warmupSteps, target);
    },
    {
      name: args.name ?? 'CosineDecay',
      // The class when a custom name hides it (Keras keeps the class beside the config).
      ...(args.name !== undefined && args.name !== 'CosineDecay' ? { kind: 'CosineDecay' } : {}),
      initialLearningRate: lr0,
      decaySteps,
      alpha,
      warmupTarget: target ?? null,
      warmupSteps,
    },
  );
}

/** The schedule functions by Keras class name, for `scheduleFromConfig`. */
const BY_NAME: Record<string, (c: never) => LearningRateSchedule> = {
  ExponentialDecay: exponentialDecay,
  InverseTimeDecay: inverseTimeDecay,
  PolynomialDecay: polynomialDecay,
  PiecewiseConstantDecay: piecewiseConstantDecay,
  CosineDecay: cosineDecay,
};

/** Recreates a schedule from its `config` (what an optimizer's `getConfig` saves). */
export function scheduleFromConfig(config: Record<string, unknown>): LearningRateSchedule {
  if (config === null || typeof config !== 'object')
    throw new ArgumentError(`scheduleFromConfig: expected a schedule config, got ${JSON.stringify(config)}`);
  const { name, kind, ...rest } = config as { name?: unknown; kind?: unknown } & Record<string, unknown>;
  const cls = typeof kind === 'string' ? kind : name;
  const f = typeof cls === 'string' ? BY_NAME[cls] : undefined;
  if (!f)
    throw new ArgumentError(
      `scheduleFromConfig: unknown schedule ${JSON.stringify(cls)} (known: ${Object.keys(BY_NAME).join(', ')})`,
    );
  if (cls === 'CosineDecay') {
    const c = { ...rest, name: typeof name === 'string' ? name : undefined } as Record<string, unknown>;
    if (c.warmupTarget === null) delete c.warmupTarget;
    return f(c as never);
  }
  return f(rest as never);
}
