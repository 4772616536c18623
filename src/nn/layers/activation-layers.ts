import { greater, mul } from '../../kernels/binary.js';
import { where } from '../../kernels/select.js';
import { elu, leakyRelu } from '../../kernels/unary.js';
import { ArgumentError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CallArgs, LayerArgs } from '../layer.js';
import { Layer, registerLayer, single } from '../layer.js';

/** The activation layers of Keras that take a parameter (the others: `Activation({activation})`). */

function finite(v: unknown, what: string, who: string, positive = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive && !(v > 0))) {
    throw new ArgumentError(
      `${who}: ${what} must be a ${positive ? 'positive ' : ''}finite number, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

export interface ELUArgs extends LayerArgs {
  /** Scale of the negative part (default 1). */
  alpha?: number;
}

/** Keras `ELU`: x for x > 0, alpha * (exp(x) - 1) otherwise. */
export class ELU extends Layer {
  /** Scale of the negative part: alpha * (exp(x) - 1) for x <= 0 (default 1). */
  readonly alpha: number;
  constructor(args: ELUArgs = {}) {
    super(args);
    this.alpha = finite(args.alpha ?? 1, 'alpha', `ELU '${this.name}'`, true);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    if (this.alpha === 1) return elu(x);
    return where(greater(x, 0), x, mul(elu(x), this.alpha));
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}
registerLayer('ELU', (c) => new ELU(c as ELUArgs));

export interface LeakyReLUArgs extends LayerArgs {
  /** Slope for x < 0 (default 0.3, as Keras and TF.js). */
  alpha?: number;
}

/** Keras `LeakyReLU`: x for x >= 0, alpha * x otherwise. */
export class LeakyReLU extends Layer {
  /** Slope for x < 0 (default 0.3, as Keras). */
  readonly alpha: number;
  constructor(args: LeakyReLUArgs = {}) {
    super(args);
    this.alpha = finite(args.alpha ?? 0.3, 'alpha', `LeakyReLU '${this.name}'`);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return leakyRelu(single(this, inputs), this.alpha);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}
registerLayer('LeakyReLU', (c) => new LeakyReLU(c as LeakyReLUArgs));
