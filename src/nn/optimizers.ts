import { applyUpdate, type UpdateRule } from '../kernels/optimizer.js';
import { fill } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Variable, variable } from '../tensor/variable.js';

/** Learning rate as a function of the step (0-based count of updates already applied). */
export interface LearningRateSchedule {
  (step: number): number;
  /** The schedule's Keras config (saved with the optimizer), when it has one. */
  config?: Record<string, unknown>;
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

/** Keras `ExponentialDecay`: lr = initial * decayRate ^ (step / decaySteps) (floored with staircase). */
export function exponentialDecay(args: ExponentialDecayArgs): LearningRateSchedule {
  checkArgs<ExponentialDecayArgs>(args, 'exponentialDecay', {
    initialLearningRate: true,
    decaySteps: true,
    decayRate: true,
    staircase: true,
  });
  const { initialLearningRate: lr0, decaySteps, decayRate, staircase = false } = args;
  for (const [name, v] of [
    ['initialLearningRate', lr0],
    ['decaySteps', decaySteps],
    ['decayRate', decayRate],
  ] as const) {
    if (!(v > 0) || !Number.isFinite(v))
      throw new ArgumentError(`exponentialDecay: ${name} must be a finite number > 0, got ${v}`);
  }
  if (typeof staircase !== 'boolean')
    throw new ArgumentError(
      `exponentialDecay: staircase must be a boolean, got ${JSON.stringify(staircase)}`,
    );
  const f: LearningRateSchedule = (step) => {
    const p = step / decaySteps;
    return lr0 * decayRate ** (staircase ? Math.floor(p) : p);
  };
  f.config = { name: 'ExponentialDecay', ...args, staircase };
  return f;
}

function checkArgs<T>(args: unknown, who: string, keys: OptionKeys<T>): void {
  if (args === null || typeof args !== 'object')
    throw new ArgumentError(`${who}: expected an options object, got ${JSON.stringify(args)}`);
  checkOptions(args, keys, who);
}

function checkLr(lr: unknown, who: string): number | LearningRateSchedule {
  if (typeof lr === 'function') return lr as LearningRateSchedule;
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) {
    throw new ArgumentError(
      `${who}: learningRate must be a positive number or a schedule, got ${JSON.stringify(lr)}`,
    );
  }
  return lr;
}

function checkUnit(v: number, name: string, who: string, allowZero = true): number {
  if (typeof v !== 'number' || !(allowZero ? v >= 0 : v > 0) || v >= 1) {
    throw new ArgumentError(
      `${who}: ${name} must be in ${allowZero ? '[0, 1)' : '(0, 1)'}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Base optimizer: keeps slot variables per weight (created on first update) and applies every
 * update in place on the GPU.
 */
export abstract class Optimizer {
  private lr: number | LearningRateSchedule;
  /** Number of updates applied (Keras `optimizer.iterations`). */
  iterations = 0;
  /** The optimizer's state per weight (momentum, Adam's moments), created on the first update. */
  protected readonly slots = new Map<Variable, Variable[]>();

  constructor(learningRate: number | LearningRateSchedule, who: string) {
    this.lr = checkLr(learningRate, who);
  }

  /**
   * The learning rate: a number, or a schedule of the step. Settable (Keras
   * `optimizer.learning_rate = x`; what ReduceLROnPlateau and LearningRateScheduler do).
   */
  get learningRate(): number | LearningRateSchedule {
    return this.lr;
  }
  set learningRate(v: number | LearningRateSchedule) {
    this.lr = checkLr(v, this.constructor.name);
  }

  /** The learning rate for the current step. */
  currentLearningRate(): number {
    return typeof this.learningRate === 'function' ? this.learningRate(this.iterations) : this.learningRate;
  }

  /** How many state variables each weight needs. */
  protected abstract readonly numSlots: number;
  /** Updates `w` in place from its gradient `g` and its state `slots`, at learning rate `lr`. */
  protected abstract update(w: Variable, g: Tensor, slots: Variable[], lr: number): void;
  /** The Keras config (name, learning rate, hyperparameters). */
  abstract getConfig(): Record<string, unknown>;

  /** Applies one update to each variable from its gradient, then advances `iterations`. */
  applyGradients(grads: Map<Variable, Tensor> | Array<[Variable, Tensor]>): void {
    const lr = this.currentLearningRate();
    // A schedule is user code: a NaN or negative rate would silently ruin every weight.
    if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) {
      throw new ArgumentError(
        `${this.constructor.name}: the learning-rate schedule returned ${String(lr)} at step ${this.iterations}; it must return a finite number > 0`,
      );
    }
    for (const [w, g] of grads instanceof Map ? grads.entries() : grads) {
      let s = this.slots.get(w);
      if (!s) {
        s = Array.from({ length: this.numSlots }, (_, k) => {
          const z = fill(w.shape, 0);
          const v = variable(z, { name: `${w.name}/slot${k}`, trainable: false });
          z.dispose();
          return v;
        });
        this.slots.set(w, s);
      }
      this.update(w, g, s, lr);
    }
    this.iterations++;
  }

  /** Slot variables (for checkpoints), in the order of the weights given. */
  slotVariables(weights: readonly Variable[]): Variable[][] {
    return weights.map((w) => this.slots.get(w) ?? []);
  }

  /**
   * Replaces the slot variables of `w` with copies of `values` (checkpoint restore); the optimizer
   * then continues exactly where the saved one stopped (set `iterations` too).
   */
  setSlots(w: Variable, values: readonly Tensor[]): void {
    if (values.length !== this.numSlots) {
      throw new ArgumentError(
        `setSlots: '${w.name}' needs ${this.numSlots} slot values for ${this.constructor.name}, got ${values.length}`,
      );
    }
    for (const v of this.slots.get(w) ?? []) v.dispose();
    this.slots.set(
      w,
      values.map((t, k) => variable(t, { name: `${w.name}/slot${k}`, trainable: false })),
    );
  }

  /** Frees the slot variables. */
  dispose(): void {
    for (const s of this.slots.values()) for (const v of s) v.dispose();
    this.slots.clear();
  }

  /** The learning rate as saved in the config: the number, or the schedule's config. */
  protected lrConfig(): unknown {
    return typeof this.learningRate === 'function'
      ? (this.learningRate.config ?? 'schedule')
      : this.learningRate;
  }
}

/** Options of SGD (Keras `SGD`). */
export interface SGDArgs {
  /** Learning rate or schedule (default 0.01). */
  learningRate?: number | LearningRateSchedule;
  /** Momentum in [0, 1) (default 0: plain SGD). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/** Keras SGD: plain, with momentum, or Nesterov momentum. */
export class SGD extends Optimizer {
  /** Momentum in [0, 1). */
  readonly momentum: number;
  /** Whether the momentum is Nesterov's. */
  readonly nesterov: boolean;
  /** 1 with momentum (the velocity), else 0. */
  protected readonly numSlots: number;

  constructor(args: SGDArgs = {}) {
    checkArgs<SGDArgs>(args, 'SGD', { learningRate: true, momentum: true, nesterov: true });
    super(args.learningRate ?? 0.01, 'SGD');
    this.momentum = checkUnit(args.momentum ?? 0, 'momentum', 'SGD');
    if (args.nesterov !== undefined && typeof args.nesterov !== 'boolean')
      throw new ArgumentError(`SGD: nesterov must be a boolean, got ${JSON.stringify(args.nesterov)}`);
    this.nesterov = args.nesterov ?? false;
    this.numSlots = this.momentum > 0 ? 1 : 0;
  }

  /** One SGD step on the GPU, in place. */
  protected update(w: Variable, g: Tensor, slots: Variable[], lr: number): void {
    const rule: UpdateRule = this.momentum === 0 ? 'sgd' : this.nesterov ? 'nesterov' : 'momentum';
    applyUpdate(rule, w, g, slots, { lr, a: this.momentum });
  }

  /** The Keras config: learning_rate, momentum, nesterov. */
  getConfig(): Record<string, unknown> {
    return { name: 'SGD', learningRate: this.lrConfig(), momentum: this.momentum, nesterov: this.nesterov };
  }
}

/** Options of Adam (Keras `Adam`). */
export interface AdamArgs {
  /** Learning rate or schedule (default 0.001). */
  learningRate?: number | LearningRateSchedule;
  /** Decay of the first-moment estimate (default 0.9). */
  beta1?: number;
  /** Decay of the second-moment estimate (default 0.999). */
  beta2?: number;
  /** Added to the denominator (default 1e-7, as Keras). */
  epsilon?: number;
}

/** Keras Adam (epsilon 1e-7 outside the square root, bias correction folded into the step size). */
export class Adam extends Optimizer {
  /** Decay of the first-moment estimate. */
  readonly beta1: number;
  /** Decay of the second-moment estimate. */
  readonly beta2: number;
  /** Added to the denominator. */
  readonly epsilon: number;
  /** The two moment estimates. */
  protected readonly numSlots = 2;

  constructor(args: AdamArgs = {}) {
    checkArgs<AdamArgs>(args, 'Adam', { learningRate: true, beta1: true, beta2: true, epsilon: true });
    super(args.learningRate ?? 0.001, 'Adam');
    this.beta1 = checkUnit(args.beta1 ?? 0.9, 'beta1', 'Adam');
    this.beta2 = checkUnit(args.beta2 ?? 0.999, 'beta2', 'Adam');
    this.epsilon = args.epsilon ?? 1e-7;
    if (!(this.epsilon > 0) || !Number.isFinite(this.epsilon))
      throw new ArgumentError(`Adam: epsilon must be a finite number > 0, got ${this.epsilon}`);
  }

  /** One Adam step on the GPU, in place. */
  protected update(w: Variable, g: Tensor, slots: Variable[], lr: number): void {
    const t = this.iterations + 1;
    const lrT = (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    applyUpdate('adam', w, g, slots, { lr: lrT, a: this.beta1, b: this.beta2, eps: this.epsilon });
  }

  /** The Keras config: learning_rate, beta_1, beta_2, epsilon. */
  getConfig(): Record<string, unknown> {
    return {
      name: 'Adam',
      learningRate: this.lrConfig(),
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    };
  }
}

/** Resolves Keras-style string names ('sgd', 'adam') or returns the optimizer given. */
export function getOptimizer(o: Optimizer | string): Optimizer {
  if (o instanceof Optimizer) return o;
  switch (typeof o === 'string' ? o.toLowerCase() : o) {
    case 'sgd':
      return new SGD();
    case 'adam':
      return new Adam();
    default:
      throw new ArgumentError(
        `compile: optimizer must be an Optimizer or one of 'sgd', 'adam', got ${JSON.stringify(o)}`,
      );
  }
}
