import type { Activation } from '../../kernels/activation.js';
import { conv2dBackpropFilter, conv2dBackpropInput } from '../../kernels/conv.js';
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from '../../kernels/depthwise.js';
import { sum } from '../../kernels/reduce.js';
import { slice } from '../../kernels/slice.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerGradient, registerNonDifferentiable } from '../registry.js';
import { activationGrad } from './matmul.js';

// Convolutions: the input and filter gradients are their own kernels (conv.ts, depthwise.ts);
// the fused activation is undone first, the bias gradient sums over N, H, W.

type ConvAttrs = {
  strides: [number, number];
  padding: [[number, number], [number, number]];
  activation?: Activation;
};

function convRule(
  backInput: (
    dy: Tensor,
    f: Tensor,
    shape: readonly number[],
    s: [number, number],
    p: ConvAttrs['padding'],
  ) => Tensor,
  backFilter: (
    x: Tensor,
    dy: Tensor,
    shape: readonly number[],
    s: [number, number],
    p: ConvAttrs['padding'],
  ) => Tensor,
) {
  return (
    dy: Tensor,
    r: { inputs: readonly Tensor[]; output: Tensor; attrs?: Readonly<Record<string, unknown>> },
    need: readonly boolean[],
  ) => {
    const [x, f] = r.inputs;
    const { strides, padding, activation = 'linear' } = r.attrs as ConvAttrs;
    const dz = activationGrad(activation, dy, r.output);
    const out: Array<Tensor | null> = [
      need[0] ? backInput(dz, f, x.shape, strides, padding) : null,
      need[1] ? backFilter(x, dz, f.shape, strides, padding) : null,
    ];
    if (r.inputs.length > 2) out.push(need[2] ? sum(dz, [0, 1, 2]) : null);
    return out;
  };
}

registerGradient('conv2d', convRule(conv2dBackpropInput, conv2dBackpropFilter));
registerGradient('depthwiseConv2d', convRule(depthwiseConv2dBackpropInput, depthwiseConv2dBackpropFilter));

registerGradient('pad', (dy, r) => {
  const x = r.inputs[0];
  const { paddings } = r.attrs as { paddings: number[][] };
  return [
    slice(
      dy,
      paddings.map((p) => p[0]),
      x.shape,
    ),
  ];
});

registerNonDifferentiable(
  'conv2dBackpropInput',
  'conv2dBackpropFilter',
  'depthwiseConv2dBackpropInput',
  'depthwiseConv2dBackpropFilter',
);
