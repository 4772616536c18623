import { add, div, maximum, minimum, mul, sub } from '../kernels/binary.js';
import { applyUpdate, type GradientClip, type UpdateRule } from '../kernels/optimizer.js';
import { sum } from '../kernels/reduce.js';
import { sqrt, square } from '../kernels/unary.js';
import { fill } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import type { OptionKeys } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Variable, variable } from '../tensor/variable.js';
import { checkArgs, fmt, type LearningRateSchedule } from './schedules.js';

export { checkArgs, type LearningRateSchedule };

/** Options every optimizer takes (Keras 3 base optimizer keywords, TF.js camelCase). */
export interface OptimizerArgs {
  /** Learning rate or schedule (default per optimizer). */
  learningRate?: number | LearningRateSchedule;
  /** Decoupled weight decay: `w -= w * weightDecay * lr` before each update (default none). */
  weightDecay?: number;
  /** Clip each gradient to this L2 norm (default none). */
  clipnorm?: number;
  /** Clip each gradient element to [-clipvalue, clipvalue] (default none). */
  clipvalue?: number;
  /** Clip all gradients together to this global L2 norm (default none; not with `clipnorm`). */
  globalClipnorm?: number;
}

/** The option keys of OptimizerArgs, for the subclasses' checks. */
export const BASE_KEYS: OptionKeys<OptimizerArgs> = {
  learningRate: true,
  weightDecay: true,
  clipnorm: true,
  clipvalue: true,
  globalClipnorm: true,
};

function checkLr(lr: unknown, who: string): number | LearningRateSchedule {
  if (typeof lr === 'function') return lr as LearningRateSchedule;
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) {
    throw new ArgumentError(
      `${who}: learningRate must be a positive number or a schedule, got ${JSON.stringify(lr)}`,
    );
  }
  return lr;
}

/** A number in [0, 1) (or (0, 1)), else an ArgumentError naming it. */
export function checkUnit(v: unknown, name: string, who: string, allowZero = true): number {
  if (typeof v !== 'number' || !(allowZero ? v >= 0 : v > 0) || v >= 1) {
    throw new ArgumentError(`${who}: ${name} must be in ${allowZero ? '[0, 1)' : '(0, 1)'}, got ${fmt(v)}`);
  }
  return v;
}

/** A finite number > 0 (>= 0 with allowZero), or undefined when not given. */
export function checkPositive(v: unknown, name: string, who: string, allowZero = false): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !(allowZero ? v >= 0 : v > 0))
    throw new ArgumentError(
      `${who}: ${name} must be a finite number ${allowZero ? '>=' : '>'} 0, got ${fmt(v)}`,
    );
  return v;
}

/** What the base class passes every update: the clip and the weight decay of this step. */
export interface StepParams {
  /** The gradient clipping of this step, if any (see `Optimizer`). */
  clip?: GradientClip;
  /** Decoupled weight decay, if any. */
  weightDecay?: number;
  /** The step's learning rate (what the weight decay is scaled by). */
  lr0?: number;
}

/**
 * Base optimizer: keeps slot variables per weight (created on first update) and applies every
 * update in place on the GPU. Gradient clipping (`clipnorm`, `globalClipnorm`, `clipvalue`, as
 * Keras 3: at most one applies, in that order) and decoupled weight decay are fused into the update
 * kernel; the norms are computed on the GPU and read by the kernel from a 1-element buffer.
 */
export abstract class Optimizer {
  private lr: number | LearningRateSchedule;
  /** Number of updates applied (Keras `optimizer.iterations`). */
  iterations = 0;
  /** Decoupled weight decay (Keras `weight_decay`), or undefined. */
  readonly weightDecay?: number;
  /** Per-gradient L2 clip norm, or undefined. */
  readonly clipnorm?: number;
  /** Per-element clip value, or undefined. */
  readonly clipvalue?: number;
  /** Global L2 clip norm over all gradients, or undefined. */
  readonly globalClipnorm?: number;
  /** The optimizer's state per weight (momentum, Adam's moments), created on the first update. */
  protected readonly slots = new Map<Variable, Variable[]>();
  private readonly noDecay = new Set<Variable>();
  private noDecayNames: RegExp[] = [];

  /** Checks the learning rate and the base options (`who` names the class in errors). */
  constructor(args: OptimizerArgs, defaultLearningRate: number, who: string) {
    this.lr = checkLr(args.learningRate ?? defaultLearningRate, who);
    this.weightDecay = checkPositive(args.weightDecay, 'weightDecay', who, true);
    this.clipnorm = checkPositive(args.clipnorm, 'clipnorm', who);
    this.clipvalue = checkPositive(args.clipvalue, 'clipvalue', who);
    this.globalClipnorm = checkPositive(args.globalClipnorm, 'globalClipnorm', who);
    if (this.clipnorm !== undefined && this.globalClipnorm !== undefined)
      throw new ArgumentError(
        `${who}: only one of clipnorm and globalClipnorm can be set, got clipnorm ${this.clipnorm} and globalClipnorm ${this.globalClipnorm}`,
      );
  }

  /**
   * The learning rate: a number, or a schedule of the step. Settable (Keras
   * `optimizer.learning_rate = x`; what ReduceLROnPlateau and LearningRateScheduler do).
   */
  get learningRate(): number | LearningRateSchedule {
    return this.lr;
  }
  /** Sets the learning rate (a positive number or a schedule). */
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
  protected abstract update(w: Variable, g: Tensor, slots: Variable[], lr: number, step: StepParams): void;
  /** The Keras config (name, learning rate, hyperparameters). */
  abstract getConfig(): Record<string, unknown>;

  /** The initial value of slot `k` (Adagrad's accumulator starts above 0). */
  protected slotInitialValue(_k: number): number {
    return 0;
  }

  /**
   * Keras `exclude_from_weight_decay`: the variables in `varList`, and those whose name matches
   * (as a regular expression, anywhere) one of `varNames` (e.g. `['bias']`), get no weight decay.
   */
  excludeFromWeightDecay(args: { varList?: Variable[]; varNames?: string[] }): void {
    const who = 'excludeFromWeightDecay';
    checkArgs<{ varList?: Variable[]; varNames?: string[] }>(args, who, { varList: true, varNames: true });
    const { varList = [], varNames = [] } = args;
    if (!Array.isArray(varList) || !Array.isArray(varNames) || varNames.some((n) => typeof n !== 'string'))
      throw new ArgumentError(
        `${who}: varList must be an array of variables and varNames an array of strings, got ${JSON.stringify({ varList: typeof varList, varNames })}`,
      );
    this.noDecay.clear();
    for (const v of varList) this.noDecay.add(v);
    this.noDecayNames = varNames.map((n) => new RegExp(n));
  }

  private decays(w: Variable): boolean {
    return !this.noDecay.has(w) && !this.noDecayNames.some((r) => r.test(w.name ?? ''));
  }

  /** Runs once per step before the updates (Nadam advances its momentum-cache product here). */
  protected beforeStep(): void {}

  /** Applies one update to each variable from its gradient, then advances `iterations`. */
  applyGradients(grads: Map<Variable, Tensor> | Array<[Variable, Tensor]>): void {
    const lr = this.currentLearningRate();
    // A schedule is user code: a NaN or negative rate would silently ruin every weight. 0 is a
    // legitimate rate (a warmup from 0, as Keras' CosineDecay allows).
    if (typeof lr !== 'number' || !(lr >= 0) || !Number.isFinite(lr)) {
      throw new ArgumentError(
        `${this.constructor.name}: the learning-rate schedule returned ${String(lr)} at step ${this.iterations}; it must return a finite number >= 0`,
      );
    }
    const pairs = [...(grads instanceof Map ? grads.entries() : grads)];
    const global = this.globalClipnorm === undefined ? undefined : globalScale(pairs, this.globalClipnorm);
    try {
      this.beforeStep();
      for (const [w, g] of pairs) {
        let s = this.slots.get(w);
        if (!s) {
          s = Array.from({ length: this.numSlots }, (_, k) => {
            const z = fill(w.shape, this.slotInitialValue(k));
            const v = variable(z, { name: `${w.name}/slot${k}`, trainable: false });
            z.dispose();
            return v;
          });
          this.slots.set(w, s);
        }
        const denom = this.clipnorm === undefined ? undefined : normDenominator(g, this.clipnorm);
        const step: StepParams = {
          weightDecay: this.weightDecay !== undefined && this.decays(w) ? this.weightDecay : undefined,
          lr0: lr,
          clip:
            denom && this.clipnorm !== undefined
              ? { mode: 'norm', value: this.clipnorm, denom }
              : global
                ? { mode: 'global', scale: global }
                : this.clipvalue !== undefined
                  ? { mode: 'value', value: this.clipvalue }
                  : undefined,
        };
        try {
          this.update(w, g, s, lr, step);
        } finally {
          denom?.dispose();
        }
      }
    } finally {
      global?.dispose();
    }
    this.iterations++;
  }

  /** Slot variables (for checkpoints), in the order of the weights given. */
  slotVariables(weights: readonly Variable[]): Variable[][] {
    return weights.map((w) => this.slots.get(w) ?? []);
  }

  /**
   * Replaces the slot variables of `w` with copies of `values` (checkpoint restore); the optimizer
   * then continues exactly where the saved one stopped (set `iterations` and `setState` too).
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

  /** Scalar state beyond the slots and `iterations` (Nadam's momentum-cache product), for checkpoints. */
  getState(): Record<string, number> {
    return {};
  }

  /** Restores what `getState` returned. */
  setState(state: Record<string, number>): void {
    if (state === null || typeof state !== 'object')
      throw new ArgumentError(`setState: expected an object of numbers, got ${JSON.stringify(state)}`);
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

  /** The base options that are set, for the subclasses' configs. */
  protected baseConfig(): Record<string, unknown> {
    const c: Record<string, unknown> = {};
    for (const k of ['weightDecay', 'clipnorm', 'clipvalue', 'globalClipnorm'] as const)
      if (this[k] !== undefined) c[k] = this[k];
    return c;
  }
}

/** max(||g||, c) as a 1-element tensor (Keras clip_by_norm divides g * c by it). */
function normDenominator(g: Tensor, c: number): Tensor {
  return tidy(() => maximum(sqrt(sum(square(g))), c));
}

/** Keras clip_by_global_norm's scale: c * min(1 / norm, 1 / c), NaN when the norm is not finite. */
function globalScale(pairs: Array<[Variable, Tensor]>, c: number): Tensor {
  return tidy(() => {
    let total: Tensor | undefined;
    for (const [, g] of pairs) {
      const s = sum(square(g));
      total = total ? add(total, s) : s;
    }
    const norm = sqrt(total ?? fill([], 0));
    return add(mul(minimum(div(1, norm), 1 / c), c), sub(norm, norm));
  });
}

/** Options of SGD (Keras `SGD`). */
export interface SGDArgs extends OptimizerArgs {
  /** Momentum in [0, 1) (default 0: plain SGD). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/** Keras SGD: plain, with momentum, or Nesterov momentum (default learning rate 0.01). */
export class SGD extends Optimizer {
  /** Momentum in [0, 1). */
  readonly momentum: number;
  /** Whether the momentum is Nesterov's. */
  readonly nesterov: boolean;
  /** 1 with momentum (the velocity), else 0. */
  protected readonly numSlots: number;

  /** See SGDArgs. */
  constructor(args: SGDArgs = {}) {
    checkArgs<SGDArgs>(args, 'SGD', { ...BASE_KEYS, momentum: true, nesterov: true });
    super(args, 0.01, 'SGD');
    this.momentum = checkUnit(args.momentum ?? 0, 'momentum', 'SGD');
    if (args.nesterov !== undefined && typeof args.nesterov !== 'boolean')
      throw new ArgumentError(`SGD: nesterov must be a boolean, got ${JSON.stringify(args.nesterov)}`);
    this.nesterov = args.nesterov ?? false;
    this.numSlots = this.momentum > 0 ? 1 : 0;
  }

  /** One SGD step on the GPU, in place. */
  protected update(w: Variable, g: Tensor, slots: Variable[], lr: number, step: StepParams): void {
    const rule: UpdateRule = this.momentum === 0 ? 'sgd' : this.nesterov ? 'nesterov' : 'momentum';
    applyUpdate(rule, w, g, slots, { ...step, lr, a: this.momentum });
  }

  /** The Keras config: learning_rate, momentum, nesterov (and the base options set). */
  getConfig(): Record<string, unknown> {
    return {
      name: 'SGD',
      learningRate: this.lrConfig(),
      momentum: this.momentum,
      nesterov: this.nesterov,
      ...this.baseConfig(),
    };
  }
}

/** Options of Adam (Keras `Adam`). */
export interface AdamArgs extends OptimizerArgs {
  /** Decay of the first-moment estimate (default 0.9). */
  beta1?: number;
  /** Decay of the second-moment estimate (default 0.999). */
  beta2?: number;
  /** Added to the denominator (default 1e-7, as Keras). */
  epsilon?: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
}

const ADAM_KEYS: OptionKeys<AdamArgs> = {
  ...BASE_KEYS,
  beta1: true,
  beta2: true,
  epsilon: true,
  amsgrad: true,
};

/** Keras Adam (epsilon 1e-7 outside the square root, bias correction folded into the step size). */
export class Adam extends Optimizer {
  /** Decay of the first-moment estimate. */
  readonly beta1: number;
  /** Decay of the second-moment estimate. */
  readonly beta2: number;
  /** Added to the denominator. */
  readonly epsilon: number;
  /** Whether AMSGrad's running maximum of the second moment is used. */
  readonly amsgrad: boolean;
  /** The two moment estimates (and AMSGrad's maximum). */
  protected readonly numSlots: number;

  /** See AdamArgs. */
  constructor(args: AdamArgs = {}, who = 'Adam') {
    checkArgs<AdamArgs>(args, who, ADAM_KEYS);
    super(args, 0.001, who);
    this.beta1 = checkUnit(args.beta1 ?? 0.9, 'beta1', who);
    this.beta2 = checkUnit(args.beta2 ?? 0.999, 'beta2', who);
    this.epsilon = checkPositive(args.epsilon ?? 1e-7, 'epsilon', who) as number;
    if (args.amsgrad !== undefined && typeof args.amsgrad !== 'boolean')
      throw new ArgumentError(`${who}: amsgrad must be a boolean, got ${JSON.stringify(args.amsgrad)}`);
    this.amsgrad = args.amsgrad ?? false;
    this.numSlots = this.amsgrad ? 3 : 2;
  }

  /** One Adam step on the GPU, in place. */
  protected update(w: Variable, g: Tensor, slots: Variable[], lr: number, step: StepParams): void {
    const t = this.iterations + 1;
    const lrT = (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    applyUpdate(this.amsgrad ? 'amsgrad' : 'adam', w, g, slots, {
      ...step,
      lr: lrT,
      a: this.beta1,
      b: this.beta2,
      eps: this.epsilon,
    });
  }

  /** The Keras config: learning_rate, beta_1, beta_2, epsilon, amsgrad (and the base options set). */
  getConfig(): Record<string, unknown> {
    return {
      name: this.constructor.name,
      learningRate: this.lrConfig(),
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      ...(this.amsgrad ? { amsgrad: true } : {}),
      ...this.baseConfig(),
    };
  }
}

/** Options of AdamW (Keras `AdamW`): Adam's, with `weightDecay` defaulting to 0.004. */
export type AdamWArgs = AdamArgs;

/** Keras AdamW: Adam with decoupled weight decay (`w -= w * weightDecay * lr` each step; default 0.004). */
export class AdamW extends Adam {
  /** See AdamWArgs. */
  constructor(args: AdamWArgs = {}) {
    checkArgs<AdamWArgs>(args, 'AdamW', ADAM_KEYS);
    super({ ...args, weightDecay: args.weightDecay ?? 0.004 }, 'AdamW');
  }
}
