import { conv2d, conv2dBackpropFilter, conv2dBackpropInput } from '../../kernels/conv.js';
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from '../../kernels/depthwise.js';
import { sum } from '../../kernels/reduce.js';
import type { Pads2D } from '../../tensor/op-table.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradRule, GradTable } from '../registry.js';
import { activationGrad } from './matmul.js';

// Convolutions: the input and filter gradients are their own kernels (conv.ts, depthwise.ts);
// the fused activation is undone first, the bias gradient sums over N, H, W.

type Pads = Pads2D;

function convRule<K extends 'conv2d' | 'depthwiseConv2d'>(
  backInput: (dy: Tensor, f: Tensor, shape: readonly number[], s: [number, number], p: Pads) => Tensor,
  backFilter: (x: Tensor, dy: Tensor, shape: readonly number[], s: [number, number], p: Pads) => Tensor,
): GradRule<K> {
  return (dy, r, need) => {
    const [x, f] = r.inputs;
    const { strides, padding, activation } = r.attrs;
    const dz = activationGrad(activation, dy, r.output);
    const out: Array<Tensor | null> = [
      need[0] ? backInput(dz, f, x.shape, strides, padding) : null,
      need[1] ? backFilter(x, dz, f.shape, strides, padding) : null,
    ];
    if (r.inputs.length > 2) out.push(need[2] ? sum(dz, [0, 1, 2]) : null);
    return out;
  };
}

export const convGrads = {
  conv2d: convRule(conv2dBackpropInput, conv2dBackpropFilter),
  depthwiseConv2d: convRule(depthwiseConv2dBackpropInput, depthwiseConv2dBackpropFilter),

  // conv2dBackpropInput(dy, f) is the adjoint of x -> conv2d(x, f), linear in dy and in f: its
  // gradients are the forward convolution of g (for dy) and the filter gradient of (g, dy) (for f).
  // Conv2DTranspose is this op, so it trains.
  conv2dBackpropInput: (g, r, need) => {
    const [dy, f] = r.inputs;
    const { strides, padding } = r.attrs;
    return [
      need[0] ? conv2d(g, f, strides, padding) : null,
      need[1] ? conv2dBackpropFilter(g, dy, f.shape, strides, padding) : null,
    ];
  },
  conv2dBackpropFilter: 'nondiff',
  depthwiseConv2dBackpropInput: 'nondiff',
  depthwiseConv2dBackpropFilter: 'nondiff',
} satisfies Partial<GradTable>;
