import type { Activation } from '../../kernels/activation.js';
import { conv2d } from '../../kernels/conv.js';
import { depthwiseConv2d } from '../../kernels/depthwise.js';
import { pad } from '../../kernels/pad.js';
import { reshape } from '../../kernels/reshape.js';
import { slice } from '../../kernels/slice.js';
import { transpose } from '../../kernels/transpose.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * Convolutions with dilation rates, composed from the convolution kernels as TensorFlow does
 * (`atrous_conv2d`: SpaceToBatch, a dense convolution, BatchToSpace): the padded image is split
 * into dh x dw phase images stacked on the batch axis, each convolved with the undilated filter,
 * and the results interleaved back. Pad, reshape, transpose and slice are differentiable, so
 * the gradients come for free. Strides must be 1 when a rate is above 1 (as Keras requires).
 */

export type ConvPadding = 'same' | 'valid' | 'causal';
export type Pads = [[number, number], [number, number]];

/** Explicit pads of a stride-1 convolution with window `k` dilated by `d` (TF 'same' arithmetic). */
export function stride1Pads(padding: ConvPadding, k: [number, number], d: [number, number]): Pads {
  const total = [0, 1].map((i) => d[i] * (k[i] - 1));
  if (padding === 'valid')
    return [
      [0, 0],
      [0, 0],
    ];
  // 'causal' (Conv1D, on the width axis): everything before.
  if (padding === 'causal')
    return [
      [0, 0],
      [total[1], 0],
    ];
  return [
    [Math.floor(total[0] / 2), total[0] - Math.floor(total[0] / 2)],
    [Math.floor(total[1] / 2), total[1] - Math.floor(total[1] / 2)],
  ];
}

export interface DilatedConvArgs {
  /** [kh, kw, cin, cout] (dense) or [kh, kw, cin, multiplier] (depthwise). */
  filter: Tensor;
  depthwise: boolean;
  dilation: [number, number];
  pads: Pads;
  bias?: Tensor;
  activation?: Activation;
}

/** act(conv(x, filter dilated by `dilation`) + bias), stride 1, with explicit pads. */
export function dilatedConv2d(x: Tensor, a: DilatedConvArgs): Tensor {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = a.filter.shape;
  const [dh, dw] = a.dilation;
  const [[t, b], [l, r]] = a.pads;
  const oh = h + t + b - dh * (kh - 1);
  const ow = w + l + r - dw * (kw - 1);
  const conv = a.depthwise ? depthwiseConv2d : conv2d;
  const opts = { bias: a.bias, activation: a.activation ?? 'linear' };
  if (dh === 1 && dw === 1) return conv(x, a.filter, 1, a.pads, opts);
  // Phase grid: x padded only by what makes the leading pads whole phases (t % dh rows) and the
  // height a multiple of dh; the rest of the padding goes to the phase convolution as explicit pads.
  // 'same' with an odd window, 'valid' and 'causal' need no pad op when dh divides the height.
  const grid = (size: number, lead: number, trail: number, d: number) => {
    const extra = lead % d;
    const end = (d - ((size + extra) % d)) % d;
    const before = (lead - extra) / d;
    const after = Math.max(0, Math.ceil((trail - end) / d));
    return { extra, end, phases: (size + extra + end) / d, pads: [before, after] as [number, number] };
  };
  const gh = grid(h, t, b, dh);
  const gw = grid(w, l, r, dw);
  const xp =
    gh.extra || gh.end || gw.extra || gw.end
      ? pad(x, [
          [0, 0],
          [gh.extra, gh.end],
          [gw.extra, gw.end],
          [0, 0],
        ])
      : x;
  // SpaceToBatch: [n, ph, dh, pw, dw, c] -> [dh, dw, n, ph, pw, c].
  const phases = reshape(transpose(reshape(xp, [n, gh.phases, dh, gw.phases, dw, c]), [2, 4, 0, 1, 3, 5]), [
    dh * dw * n,
    gh.phases,
    gw.phases,
    c,
  ]);
  const y = conv(phases, a.filter, 1, [gh.pads, gw.pads], opts);
  const [, yh, yw, co] = y.shape;
  // BatchToSpace: [dh, dw, n, yh, yw, co] -> [n, yh, dh, yw, dw, co]; drop rows past the output.
  const full = reshape(transpose(reshape(y, [dh, dw, n, yh, yw, co]), [2, 3, 0, 4, 1, 5]), [
    n,
    yh * dh,
    yw * dw,
    co,
  ]);
  return yh * dh === oh && yw * dw === ow ? full : slice(full, [0, 0, 0, 0], [n, oh, ow, co]);
}
