import type * as TF from '@tensorflow/tfjs-core';
import { evenSlices } from '../src/nn/functional.js';
import type { Tf } from './peer-tfjs.js';

/**
 * MobileNetV2 (no top) written directly in TF.js core ops, for the bench's peer side: the same
 * graph as src/applications/mobilenet-v2.ts (Keras `applications.MobileNetV2`), layer by layer
 * without fusing anything: conv2d, batchNorm (epsilon 1e-3), clipByValue(0, 6) for ReLU6, add for
 * the residuals, and before each stride-2 depthwise conv Keras' ZeroPadding2D (correct_pad: 0
 * before and 1 after on even sizes) followed by a 'valid' depthwise conv. Weights are the Keras
 * names of mobilenet_v2_1.0_224_no_top.safetensors (alpha 1.0 only).
 */

export interface NamedWeight {
  shape: number[];
  data: Float32Array;
}

export interface PeerMobileNet {
  /**
   * x [N,H,W,3] in [-1, 1] -> out_relu [N,H/32,W/32,1280]. `training` (only when built trainable):
   * BatchNormalization normalises with the batch statistics (`tf.moments`, biased variance) and
   * updates its moving statistics with momentum 0.999, as Keras' MobileNetV2 (and ours) does.
   */
  forward(x: TF.Tensor4D, training?: boolean): TF.Tensor4D;
  /**
   * Inference that frees each block's intermediates as soon as the block is done (as tfjs-layers'
   * `predict` does), so the memory peak is one block's, not the whole graph's. Not under a
   * gradient tape (the tape needs the intermediates).
   */
  predict(x: TF.Tensor4D): TF.Tensor4D;
  /** The trainable weights by Keras name (kernels, BN gamma and beta); empty unless trainable. */
  trainable: ReadonlyMap<string, TF.Variable>;
  /** Frees the weight tensors. */
  dispose(): void;
}

/** Keras' MobileNetV2 BatchNormalization momentum. */
const BN_MOMENTUM = 0.999;
const isTrainableName = (name: string) =>
  name.endsWith('kernel') || name.endsWith('/gamma') || name.endsWith('/beta');

/** [filters, stride, expansion] of blocks 0..16 (alpha 1.0: filters are already multiples of 8). */
export const BLOCKS: ReadonlyArray<readonly [number, number, number]> = [
  [16, 1, 1],
  [24, 2, 6],
  [24, 1, 6],
  [32, 2, 6],
  [32, 1, 6],
  [32, 1, 6],
  [64, 2, 6],
  [64, 1, 6],
  [64, 1, 6],
  [64, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [160, 2, 6],
  [160, 1, 6],
  [160, 1, 6],
  [320, 1, 6],
];

/** Keras correct_pad for one spatial side: [before, after]. */
export const correctPad = (size: number): [number, number] => [size % 2, 1];

/**
 * `trainable`: every weight is a `tf.variable` (kernels, gamma and beta trainable; the moving
 * statistics not), so that `tf.variableGrads` can differentiate the whole network.
 */
export function peerMobileNetV2(
  tf: Tf,
  weights: ReadonlyMap<string, NamedWeight>,
  opts: { trainable?: boolean } = {},
): PeerMobileNet {
  const held = new Map<string, TF.Tensor>();
  const trainable = new Map<string, TF.Variable>();
  const w = <T extends TF.Tensor>(name: string): T => {
    let t = held.get(name);
    if (!t) {
      const e = weights.get(name);
      if (!e) throw new Error(`peerMobileNetV2: weight '${name}' is missing`);
      if (opts.trainable) {
        const train = isTrainableName(name);
        const v = tf.tidy(() => tf.variable(tf.tensor(e.data, e.shape, 'float32'), train));
        if (train) trainable.set(name, v);
        t = v;
      } else {
        t = tf.tensor(e.data, e.shape, 'float32');
      }
      held.set(name, t);
    }
    return t as T;
  };
  let training = false;
  const conv = (x: TF.Tensor4D, name: string, stride = 1) =>
    tf.conv2d(x, w<TF.Tensor4D>(`${name}/kernel`), stride, 'same');
  const bn = (x: TF.Tensor4D, name: string): TF.Tensor4D => {
    const movingMean = w<TF.Tensor1D>(`${name}/moving_mean`);
    const movingVariance = w<TF.Tensor1D>(`${name}/moving_variance`);
    const beta = w<TF.Tensor1D>(`${name}/beta`);
    const gamma = w<TF.Tensor1D>(`${name}/gamma`);
    if (!training) return tf.batchNorm(x, movingMean, movingVariance, beta, gamma, 1e-3);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const m = BN_MOMENTUM;
    (movingMean as TF.Variable).assign(tf.add(tf.mul(movingMean, m), tf.mul(mean, 1 - m)));
    (movingVariance as TF.Variable).assign(tf.add(tf.mul(movingVariance, m), tf.mul(variance, 1 - m)));
    return tf.batchNorm(x, mean as TF.Tensor1D, variance as TF.Tensor1D, beta, gamma, 1e-3);
  };
  const relu6 = (x: TF.Tensor4D) => tf.clipByValue(x, 0, 6);

  const block = (x: TF.Tensor4D, id: number): TF.Tensor4D => {
    const [filters, stride, expansion] = BLOCKS[id];
    const inChannels = x.shape[3];
    const input = x;
    let prefix = `block_${id}_`;
    if (id > 0) x = relu6(bn(conv(x, `${prefix}expand`), `${prefix}expand_BN`));
    else prefix = 'expanded_conv_';
    const dw = w<TF.Tensor4D>(`${prefix}depthwise/depthwise_kernel`);
    if (stride === 2) {
      x = tf.pad(x, [[0, 0], correctPad(x.shape[1]), correctPad(x.shape[2]), [0, 0]]);
      x = tf.depthwiseConv2d(x, dw, 2, 'valid');
    } else {
      x = tf.depthwiseConv2d(x, dw, 1, 'same');
    }
    x = relu6(bn(x, `${prefix}depthwise_BN`));
    x = bn(conv(x, `${prefix}project`), `${prefix}project_BN`);
    if (expansion > 0 && inChannels === filters && stride === 1) x = tf.add(input, x);
    return x;
  };

  // Create every weight tensor up front, so that no upload lands inside a timed forward pass.
  for (const name of weights.keys()) w(name);
  return {
    trainable,
    forward(x, train = false) {
      if (train && !opts.trainable) throw new Error('peerMobileNetV2: training needs { trainable: true }');
      training = train;
      let y = relu6(bn(conv(x, 'Conv1', 2), 'bn_Conv1'));
      for (let id = 0; id < BLOCKS.length; id++) y = block(y, id);
      return relu6(bn(conv(y, 'Conv_1'), 'Conv_1_bn'));
    },
    predict(x) {
      training = false;
      let y = tf.tidy(() => relu6(bn(conv(x, 'Conv1', 2), 'bn_Conv1')));
      for (let id = 0; id < BLOCKS.length; id++) {
        const prev = y;
        y = tf.tidy(() => block(prev, id));
        prev.dispose();
      }
      const out = tf.tidy(() => relu6(bn(conv(y, 'Conv_1'), 'Conv_1_bn')));
      y.dispose();
      return out;
    },
    dispose() {
      for (const t of held.values()) t.dispose();
      held.clear();
      trainable.clear();
    },
  };
}

/**
 * The largest activation of one sample, in bytes: the ZeroPadding2D output before block 1's
 * stride-2 depthwise conv, [H/2 + 1, W/2 + 1, 96] (96 = 16 filters x expansion 6).
 */
export const perSampleBytes = (size: number) => 4 * (size / 2 + 1) ** 2 * 96;

/**
 * [start, length] micro-batches of a batch of `n` whose largest activation fits one storage
 * binding: the rule of our Functional model (src/nn/functional.ts), so both libraries split a
 * batch the same way (and, in training mode, take BatchNormalization statistics over the same
 * samples). At 192x192 on lavapipe (128 MiB) that is 37 samples: batch 64 runs as 2 x 32.
 */
export function microBatches(n: number, size: number, maxBindingBytes: number): Array<[number, number]> {
  return evenSlices(n, Math.floor(maxBindingBytes / perSampleBytes(size)));
}

/** Inference (`predict`) over micro-batches, outputs concatenated. */
export function forwardBatched(
  tf: Tf,
  net: PeerMobileNet,
  x: TF.Tensor4D,
  slices: ReadonlyArray<[number, number]>,
): TF.Tensor4D {
  if (slices.length === 1) return net.predict(x);
  const outs = slices.map(([s, len]) => {
    const xs = tf.slice(x, [s, 0, 0, 0], [len, -1, -1, -1]);
    const y = net.predict(xs);
    xs.dispose();
    return y;
  });
  const y = tf.concat(outs, 0);
  for (const o of outs) o.dispose();
  return y;
}

/** "2 x 32" or "3 x 32 + 1 x 20". */
export function describeSlices(slices: ReadonlyArray<[number, number]>): string {
  const counts = new Map<number, number>();
  for (const [, len] of slices) counts.set(len, (counts.get(len) ?? 0) + 1);
  return [...counts].map(([len, k]) => `${k}x${len}`).join('+');
}
