import { applyUpdate, type UpdateRule } from '../kernels/optimizer.js';
import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../tensor/variable.js';
import {
  Adam,
  AdamW,
  BASE_KEYS,
  checkArgs,
  checkPositive,
  checkUnit,
  Optimizer,
  type OptimizerArgs,
  SGD,
  type StepParams,
} from './optimizers.js';
import { fmt, type LearningRateSchedule, scheduleFromConfig } from './schedules.js';

/** Options of RMSprop (Keras `RMSprop`). */
export interface RMSpropArgs extends OptimizerArgs {
  /** Decay of the squared-gradient average (default 0.9). */
  rho?: number;
  /** Momentum in [0, 1) (default 0). */
  momentum?: number;
  /** Added inside the square root (default 1e-7). */
  epsilon?: number;
  /** Divide by the gradient's variance estimate instead of its second moment (default false). */
  centered?: boolean;
}

/** Keras RMSprop (default learning rate 0.001): `w -= lr * g / sqrt(v + eps)`, optionally centered and with momentum. */
export class RMSprop extends Optimizer {
  /** Decay of the squared-gradient average. */
  readonly rho: number;
  /** Momentum. */
  readonly momentum: number;
  /** Added inside the square root. */
  readonly epsilon: number;
  /** Whether the mean gradient is subtracted (centered RMSprop). */
  readonly centered: boolean;
  /** Velocity, then momentum (when > 0), then the mean gradient (when centered). */
  protected readonly numSlots: number;

  /** See RMSpropArgs. */
  constructor(args: RMSpropArgs = {}) {
    const who = 'RMSprop';
    checkArgs<RMSpropArgs>(args, who, {
      ...BASE_KEYS,
      rho: true,
      momentum: true,
      epsilon: true,
      centered: true,
    });
    super(args, 0.001, who);
    this.rho = checkUnit(args.rho ?? 0.9, 'rho', who);
    this.momentum = checkUnit(args.momentum ?? 0, 'momentum', who);
    this.epsilon = checkPositive(args.epsilon ?? 1e-7, 'epsilon', who) as number;
    if (args.centered !== undefined && typeof args.centered !== 'boolean')
      throw new ArgumentError(`${who}: centered must be a boolean, got ${JSON.stringify(args.centered)}`);
    this.centered = args.centered ?? false;
    this.numSlots = 1 + (this.momentum > 0 ? 1 : 0) + (this.centered ? 1 : 0);
  }

  /** One RMSprop step on the GPU, in place. */
  protected update(w: Variable, g: Tensor, slots: Variable[], lr: number, step: StepParams): void {
    const rule =
      `rmsprop${this.centered ? '_centered' : ''}${this.momentum > 0 ? '_momentum' : ''}` as UpdateRule;
    applyUpdate(rule, w, g, slots, { ...step, lr, a: this.rho, b: this.momentum, eps: this.epsilon });
  }

  /** The Keras config: learning_rate, rho, momentum, epsilon, centered (and the base options set). */
  getConfig(): Record<string, unknown> {
    return {
      name: 'RMSprop',
      learningRate: this.lrConfig(),
      rho: this.rho,
      momentum: this.momentum,
      epsilon: this.epsilon,
      centered: this.centered,
      ...this.baseConfig(),
    };
  }
}

/** Options of Adagrad (Keras `Adagrad`). */
export interface AdagradArgs extends OptimizerArgs {
  /** The accumulator's starting value (default 0.1). */
  initialAccumulatorValue?: number;
  /** Added inside the square root (default 1e-7). */
  epsilon?: number;
}

/** Keras Adagrad (default learning rate 0.001): `acc += g^2; w -= lr * g / sqrt(acc + eps)`. */
export class Adagrad extends Optimizer {
  /** The accumulator's starting value. */
  readonly initialAccumulatorValue: number;
  /** Added inside the square root. */
  readonly epsilon: number;
  /** The squared-gradient accumulator. */
  protected readonly numSlots = 1;

  /** See AdagradArgs. */
  constructor(args: AdagradArgs = {}) {
    const who = 'Adagrad';
    checkArgs<AdagradArgs>(args, who, { ...BASE_KEYS, initialAccumulatorValue: true, epsilon: true });
    super(args, 0.001, who);
    this.initialAccumulatorValue = checkPositive(
      args.initialAccumulatorValue ?? 0.1,
      'initialAccumulatorValue',
      who,
      true,
    ) as number;
    this.epsilon = checkPositive(args.epsilon ?? 1e-7, 'epsilon', who) as number;
  }

  /** The accumulator starts at `initialAccumulatorValue`. */
  protected override slotInitialValue(): number {
    return this.initialAccumulatorValue;
  }

  /** One Adagrad step on the GPU, in place. */
  protected update(w: Variable, g: Tensor, slots: Variable[], lr: number, step: StepParams): void {
    applyUpdate('adagrad', w, g, slots, { ...step, lr, eps: this.epsilon });
  }

  /** The Keras config: learning_rate, initial_accumulator_value, epsilon (and the base options set). */
  getConfig(): Record<string, unknown> {
    return {
      name: 'Adagrad',
      learningRate: this.lrConfig(),
      initialAccumulatorValue: this.initialAccumulatorValue,
      epsilon: this.epsilon,
      ...this.baseConfig(),
    };
  }
}

/** Options of Nadam (Keras `Nadam`). */
export interface NadamArgs extends OptimizerArgs {
  /** Decay of the first-moment estimate (default 0.9). */
  beta1?: number;
  /** Decay of the second-moment estimate (default 0.999). */
  beta2?: number;
  /** Added to the denominator (default 1e-7). */
  epsilon?: number;
}

/**
 * Keras 3 Nadam (Adam with Nesterov momentum and Dozat's momentum schedule
 * `u_t = beta1 * (1 - 0.5 * 0.96^t)`); the running product of the `u_t` is optimizer state, saved
 * with checkpoints through `getState`.
 */
export class Nadam extends Optimizer {
  /** Decay of the first-moment estimate. */
  readonly beta1: number;
  /** Decay of the second-moment estimate. */
  readonly beta2: number;
  /** Added to the denominator. */
  readonly epsilon: number;
  /** The momentum and velocity. */
  protected readonly numSlots = 2;
  /** The product of u_1 .. u_t (Keras `_u_product`). */
  private uProduct = 1;

  /** See NadamArgs. */
  constructor(args: NadamArgs = {}) {
    const who = 'Nadam';
    checkArgs<NadamArgs>(args, who, { ...BASE_KEYS, beta1: true, beta2: true, epsilon: true });
    super(args, 0.001, who);
    this.beta1 = checkUnit(args.beta1 ?? 0.9, 'beta1', who);
    this.beta2 = checkUnit(args.beta2 ?? 0.999, 'beta2', who);
    this.epsilon = checkPositive(args.epsilon ?? 1e-7, 'epsilon', who) as number;
  }

  private u(t: number): number {
    return this.beta1 * (1 - 0.5 * 0.96 ** t);
  }

  /** Keras advances the product once per step, before the updates. */
  protected override beforeStep(): void {
    this.uProduct *= this.u(this.iterations + 1);
  }

  /** One Nadam step on the GPU, in place. */
  protected update(w: Variable, g: Tensor, slots: Variable[], lr: number, step: StepParams): void {
    const t = this.iterations + 1;
    const uT = this.u(t);
    const uT1 = this.u(t + 1);
    const k = [uT1, 1 - this.uProduct * uT1, 1 - uT, 1 - this.uProduct, 1 - this.beta2 ** t] as const;
    applyUpdate('nadam', w, g, slots, { ...step, lr, a: this.beta1, b: this.beta2, eps: this.epsilon, k });
  }

  /** `{ uProduct }`: the momentum-cache product, for checkpoints. */
  override getState(): Record<string, number> {
    return { uProduct: this.uProduct };
  }

  /** Restores `{ uProduct }` (a finite number in (0, 1]). */
  override setState(state: Record<string, number>): void {
    super.setState(state);
    const u = state.uProduct;
    if (typeof u !== 'number' || !(u > 0 && u <= 1))
      throw new ArgumentError(`Nadam.setState: uProduct must be a number in (0, 1], got ${fmt(u)}`);
    this.uProduct = u;
  }

  /** The Keras config: learning_rate, beta_1, beta_2, epsilon (and the base options set). */
  getConfig(): Record<string, unknown> {
    return {
      name: 'Nadam',
      learningRate: this.lrConfig(),
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      ...this.baseConfig(),
    };
  }
}

/** Optimizer names `compile` accepts (Keras' spellings; any case works at run time). */
export type OptimizerName =
  | 'sgd'
  | 'adam'
  | 'adamw'
  | 'rmsprop'
  | 'adagrad'
  | 'nadam'
  | 'SGD'
  | 'Adam'
  | 'AdamW'
  | 'RMSprop'
  | 'Adagrad'
  | 'Nadam';

/** The names `getOptimizer` and `optimizerFromConfig` accept (case-insensitive). */
const CLASSES: Record<string, new (args?: never) => Optimizer> = {
  sgd: SGD,
  adam: Adam,
  adamw: AdamW,
  rmsprop: RMSprop,
  adagrad: Adagrad,
  nadam: Nadam,
};

/** Resolves Keras-style names ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'nadam', any case) or returns the optimizer given. */
export function getOptimizer(o: Optimizer | string): Optimizer {
  if (o instanceof Optimizer) return o;
  const C = typeof o === 'string' ? CLASSES[o.toLowerCase()] : undefined;
  if (!C)
    throw new ArgumentError(
      `compile: optimizer must be an Optimizer or one of ${Object.keys(CLASSES)
        .map((k) => `'${k}'`)
        .join(', ')}, got ${JSON.stringify(o)}`,
    );
  return new C();
}

/** Recreates an optimizer from its `getConfig()` (a schedule's config becomes the schedule again). */
export function optimizerFromConfig(config: Record<string, unknown>): Optimizer {
  if (config === null || typeof config !== 'object' || typeof config.name !== 'string')
    throw new ArgumentError(`optimizerFromConfig: expected { name, ... }, got ${JSON.stringify(config)}`);
  const { name, learningRate, ...rest } = config;
  const C = CLASSES[(name as string).toLowerCase()];
  if (!C)
    throw new ArgumentError(
      `optimizerFromConfig: unknown optimizer ${JSON.stringify(name)} (known: ${Object.keys(CLASSES).join(', ')})`,
    );
  let lr: number | LearningRateSchedule | undefined;
  if (learningRate !== null && typeof learningRate === 'object')
    lr = scheduleFromConfig(learningRate as Record<string, unknown>);
  else lr = learningRate as number | undefined;
  return new C({ ...rest, ...(lr === undefined ? {} : { learningRate: lr }) } as never);
}
