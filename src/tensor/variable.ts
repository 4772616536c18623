import type { DType } from './dtype.js';
import { markKept } from './engine.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from './errors.js';
import { copyBuffer } from './queue.js';
import { shapesEqual } from './shape.js';
import { Storage } from './storage.js';
import { Tensor } from './tensor.js';

let nextVar = 0;

/**
 * A mutable tensor holding model state (weights, optimizer slots). It is never disposed by `tidy`;
 * `assign` and the optimizers update its buffer in place on the GPU.
 */
export class Variable extends Tensor {
  /** Whether optimizers update it (layers set it from `layer.trainable`). */
  trainable: boolean;

  /** @internal Use `variable()`. */
  constructor(storage: Storage, shape: readonly number[], dtype: DType, name: string, trainable: boolean) {
    super(storage, shape, dtype);
    this.name = name;
    this.trainable = trainable;
    markKept(this);
  }

  /** Copies `value` (same shape and dtype) into this variable. */
  assign(value: Tensor): this {
    this.assertAlive(`assign: variable '${this.name}'`);
    if (!(value instanceof Tensor))
      throw new DTypeError(`assign: value must be a Tensor, got ${typeof value}`);
    value.assertAlive('assign: value');
    if (!shapesEqual(value.shape, this.shape)) {
      throw new ShapeError(
        `assign: variable '${this.name}' has shape ${fmtShape(this.shape)}, value has shape ${fmtShape(value.shape)}`,
      );
    }
    if (value.dtype !== this.dtype) {
      throw new DTypeError(
        `assign: variable '${this.name}' has dtype ${this.dtype}, value has dtype ${value.dtype}`,
      );
    }
    if (value.storage !== this.storage && this.size > 0)
      copyBuffer(value.buffer, 0, this.buffer, 0, this.size * 4);
    return this;
  }
}

/** Options of `variable()`. */
export interface VariableOptions {
  /** A name (layers name theirs `layer/weight`). */
  name?: string;
  /** Whether optimizers update it (default true). */
  trainable?: boolean;
}

/** Creates a variable holding a copy of `initial` (which stays owned by the caller). */
export function variable(initial: Tensor, opts: VariableOptions = {}): Variable {
  if (!(initial instanceof Tensor))
    throw new DTypeError(`variable: initial value must be a Tensor, got ${typeof initial}`);
  initial.assertAlive('variable: initial value');
  const name = opts.name ?? `variable_${nextVar++}`;
  if (typeof name !== 'string' || name.length === 0)
    throw new ArgumentError('variable: name must be a non-empty string');
  if (opts.trainable !== undefined && typeof opts.trainable !== 'boolean')
    throw new ArgumentError(`variable: trainable must be a boolean, got ${JSON.stringify(opts.trainable)}`);
  const v = new Variable(
    new Storage(Math.max(4, initial.size * 4)),
    initial.shape,
    initial.dtype,
    name,
    opts.trainable ?? true,
  );
  if (initial.size > 0) copyBuffer(initial.buffer, 0, v.buffer, 0, initial.size * 4);
  return v;
}
