import { fillKernel } from '../tensor/fill-kernel.js';
import type { ConvAttrs, ConvFilterGradAttrs, ConvInputGradAttrs } from '../tensor/op-table.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import type { Activation } from './activation.js';
import {
  assertOutputBindable,
  type ConvFamily,
  type ConvOptions,
  checkBackprop,
  checkForward,
  forwardWindow,
  type Geometry,
  type Padding,
  type Strides,
  type WindowDispatch,
  windowAttrs,
} from './conv-args.js';
import type { Precision } from './matmul-f16.js';

/**
 * The skeleton that conv2d and depthwiseConv2d and their gradients share: check the arguments,
 * allocate the output, skip the kernels when there is nothing to compute, record the op. Each
 * op passes the family (conv-args.ts) and the function that runs its kernels.
 */

/** What a forward op's kernels get besides the output: the channels, bias and activation. */
export interface ForwardArgs {
  /** Source (input) channels. */
  c: number;
  /** Output channels. */
  co: number;
  bias?: Tensor;
  act: Activation;
  /** The precision option as given ('f32' when absent); conv-f16.ts decides whether f16 runs. */
  precision: Precision;
}

/** act(op(x, filter) + bias); `run` fills y (not called when y is empty). */
export function forwardOp(
  fam: ConvFamily,
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions,
  run: (y: Tensor, win: WindowDispatch, a: ForwardArgs) => void,
): Tensor {
  const op = fam.ops[0];
  const { g, co, bias, activation, precision } = checkForward(fam, op, x, filter, strides, padding, opts);
  const y = emptyTensor([g.n, g.oh, g.ow, co], 'float32');
  const inputs = bias ? [x, filter, bias] : [x, filter];
  const attrs: ConvAttrs = { ...windowAttrs(g), activation };
  if (y.size > 0) run(y, forwardWindow(g), { c: g.c, co, bias, act: activation, precision });
  return recordOp(op, inputs, y, attrs);
}

/**
 * The forward op in inference with a batch norm that its kernel folds in (bn-inline.ts): checked
 * and sized as `forwardOp`, but not recorded on a tape (graph fusion calls it only when no tape
 * needs gradients of it). `plan` picks a kernel that folds the batch norm, or none: then the
 * result is undefined and nothing ran.
 */
export function forwardFolded<P>(
  fam: ConvFamily,
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions,
  plan: (win: WindowDispatch, a: ForwardArgs) => P | undefined,
  run: (y: Tensor, win: WindowDispatch, a: ForwardArgs, plan: P) => void,
): Tensor | undefined {
  const { g, co, bias, activation, precision } = checkForward(
    fam,
    fam.ops[0],
    x,
    filter,
    strides,
    padding,
    opts,
  );
  const win = forwardWindow(g);
  const a: ForwardArgs = { c: g.c, co, bias, act: activation, precision };
  const p = plan(win, a);
  if (p === undefined) return undefined;
  const y = emptyTensor([g.n, g.oh, g.ow, co], 'float32');
  if (y.size > 0) run(y, win, a, p);
  return y;
}

/** The gradient w.r.t. the input, of shape inputShape; `run` fills dx (not called for an empty dy). */
export function inputGradOp(
  fam: ConvFamily,
  dy: Tensor,
  filter: Tensor,
  inputShape: readonly number[],
  strides: Strides,
  padding: Padding,
  run: (dx: Tensor, g: Geometry) => void,
): Tensor {
  const op = fam.ops[1];
  const g = checkBackprop(fam, op, 'inputShape', dy, filter, inputShape, strides, padding);
  assertOutputBindable(inputShape, op);
  const attrs: ConvInputGradAttrs = { inputShape: [...inputShape], ...windowAttrs(g) };
  if (dy.size === 0) return recordOp(op, [dy, filter], fillKernel(inputShape, 0, 'float32'), attrs);
  const dx = emptyTensor(inputShape, 'float32');
  run(dx, g);
  return recordOp(op, [dy, filter], dx, attrs);
}

/** The gradient w.r.t. the filter, of shape filterShape; `run` fills df (not called when x or dy is empty). */
export function filterGradOp(
  fam: ConvFamily,
  x: Tensor,
  dy: Tensor,
  filterShape: readonly number[],
  strides: Strides,
  padding: Padding,
  run: (df: Tensor, g: Geometry) => void,
): Tensor {
  const op = fam.ops[2];
  const g = checkBackprop(fam, op, 'filterShape', x, dy, filterShape, strides, padding);
  const attrs: ConvFilterGradAttrs = { filterShape: [...filterShape], ...windowAttrs(g) };
  if (dy.size === 0 || x.size === 0)
    return recordOp(op, [x, dy], fillKernel(filterShape, 0, 'float32'), attrs);
  const df = emptyTensor(filterShape, 'float32');
  run(df, g);
  return recordOp(op, [x, dy], df, attrs);
}
