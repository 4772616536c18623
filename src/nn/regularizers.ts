import { add, mul } from '../kernels/binary.js';
import { sum } from '../kernels/reduce.js';
import { abs, square } from '../kernels/unary.js';
import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkArgs, fmt } from './schedules.js';

/**
 * Weight regularizers (Keras `keras.regularizers`, TF.js `tf.regularizers.*`): a penalty of a weight
 * that training adds to the loss (`model.regularizationLoss()`, inside the gradient tape), so its
 * gradient pulls the weight toward 0.
 */

/** Keras' serialized form of a regularizer: `{ className: 'L1' | 'L2' | 'L1L2', config }`. */
export interface RegularizerConfig {
  /** 'L1', 'L2' or 'L1L2'. */
  className: 'L1' | 'L2' | 'L1L2';
  /** The factors (Keras snake_case keys are the same: l1, l2). */
  config: RegularizerFactors;
}

/** The factors in a regularizer config. */
export interface RegularizerFactors {
  /** The L1 factor (L1 and L1L2). */
  l1?: number;
  /** The L2 factor (L2 and L1L2). */
  l2?: number;
}

/** `l1 * sum(|x|) + l2 * sum(x^2)` (Keras L1, L2 and L1L2; a factor of 0 leaves its term out). */
export class Regularizer {
  /** The L1 factor. */
  readonly l1: number;
  /** The L2 factor. */
  readonly l2: number;
  /** 'L1', 'L2' or 'L1L2', as Keras names the class. */
  readonly className: RegularizerConfig['className'];

  /** Checks the factors (finite, >= 0); `who` names the caller in errors (default the class name). */
  constructor(l1: number, l2: number, className: RegularizerConfig['className'], who: string = className) {
    for (const [name, v] of [
      ['l1', l1],
      ['l2', l2],
    ] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw new ArgumentError(`${who}: ${name} must be a finite number >= 0, got ${fmt(v)}`);
    }
    this.l1 = l1;
    this.l2 = l2;
    this.className = className;
  }

  /** The penalty of `x` as a scalar tensor (recorded on the tape, so it has a gradient). */
  apply(x: Tensor): Tensor {
    const l1 = this.l1 > 0 ? mul(sum(abs(x)), this.l1) : undefined;
    const l2 = this.l2 > 0 ? mul(sum(square(x)), this.l2) : undefined;
    if (l1 && l2) {
      const s = add(l1, l2);
      l1.dispose();
      l2.dispose();
      return s;
    }
    return l1 ?? l2 ?? mul(sum(x), 0);
  }

  /** The Keras form `{ className, config }`. */
  getConfig(): RegularizerConfig {
    const config =
      this.className === 'L1'
        ? { l1: this.l1 }
        : this.className === 'L2'
          ? { l2: this.l2 }
          : { l1: this.l1, l2: this.l2 };
    return { className: this.className, config };
  }
}

/** Options of `l1`. */
export interface L1Args {
  /** The factor (default 0.01). */
  l1?: number;
}
/** Options of `l2`. */
export interface L2Args {
  /** The factor (default 0.01). */
  l2?: number;
}
/** Options of `l1l2`. */
export interface L1L2Args {
  /** The L1 factor (default 0.01, as TF.js). */
  l1?: number;
  /** The L2 factor (default 0.01, as TF.js). */
  l2?: number;
}

/** `l1 * sum(|x|)` (Keras `L1`, default 0.01). */
export function l1(args: L1Args = {}): Regularizer {
  checkArgs<L1Args>(args, 'l1', { l1: true });
  return new Regularizer(args.l1 ?? 0.01, 0, 'L1', 'l1');
}

/** `l2 * sum(x^2)` (Keras `L2`, default 0.01). */
export function l2(args: L2Args = {}): Regularizer {
  checkArgs<L2Args>(args, 'l2', { l2: true });
  return new Regularizer(0, args.l2 ?? 0.01, 'L2', 'l2');
}

/** `l1 * sum(|x|) + l2 * sum(x^2)` (Keras `L1L2`; defaults 0.01 each as TF.js `l1l2`). */
export function l1l2(args: L1L2Args = {}): Regularizer {
  checkArgs<L1L2Args>(args, 'l1l2', { l1: true, l2: true });
  return new Regularizer(args.l1 ?? 0.01, args.l2 ?? 0.01, 'L1L2', 'l1l2');
}

/** A regularizer, its name ('l1', 'l2', 'l1l2'; Keras spellings 'L1', 'l1_l2' too) or its Keras config. */
export type RegularizerSpec = Regularizer | 'l1' | 'l2' | 'l1l2' | RegularizerConfig;

/**
 * Resolves a regularizer option (undefined and null stay undefined). Accepts Keras configs with
 * `className` or `class_name` (L1, L2, L1L2, L1L2Regularizer) as the loaders and `getConfig` write them.
 */
export function getRegularizer(spec: unknown, who = 'getRegularizer'): Regularizer | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (spec instanceof Regularizer) return spec;
  if (typeof spec === 'string') {
    const k = spec.toLowerCase().replace('_', '');
    if (k === 'l1') return l1();
    if (k === 'l2') return l2();
    if (k === 'l1l2') return l1l2();
  } else if (typeof spec === 'object') {
    const o = spec as { className?: unknown; class_name?: unknown; config?: Record<string, unknown> };
    const cls = o.className ?? o.class_name;
    const c = o.config ?? {};
    const num = (v: unknown) => (v === undefined || v === null ? 0 : (v as number));
    if (cls === 'L1') return new Regularizer(num(c.l1), 0, 'L1');
    if (cls === 'L2') return new Regularizer(0, num(c.l2), 'L2');
    if (cls === 'L1L2' || cls === 'L1L2Regularizer') return new Regularizer(num(c.l1), num(c.l2), 'L1L2');
  }
  throw new ArgumentError(
    `${who}: expected a regularizer, 'l1', 'l2', 'l1l2' or { className: 'L1' | 'L2' | 'L1L2', config }, got ${JSON.stringify(spec)}`,
  );
}

/** The configs of the regularizers that are set, for a layer's getConfig. */
export function regularizerConfigs(
  regs: Record<string, Regularizer | undefined>,
): Record<string, RegularizerConfig> {
  const out: Record<string, RegularizerConfig> = {};
  for (const [k, r] of Object.entries(regs)) if (r) out[k] = r.getConfig();
  return out;
}

/** The regularizer factories, grouped as TF.js's `tf.regularizers`. */
export interface RegularizerFactories {
  /** See `l1`. */
  l1: typeof l1;
  /** See `l2`. */
  l2: typeof l2;
  /** See `l1l2`. */
  l1l2: typeof l1l2;
}

/** The factories as TF.js groups them: `regularizers.l2({ l2: 1e-4 })`. */
export const regularizers: RegularizerFactories = { l1, l2, l1l2 };
