import type * as TF from '@tensorflow/tfjs-core';
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
  /** x [N,H,W,3] in [-1, 1] -> out_relu [N,H/32,W/32,1280]. */
  forward(x: TF.Tensor4D): TF.Tensor4D;
  /** Frees the weight tensors. */
  dispose(): void;
}

/** [filters, stride, expansion] of blocks 0..16 (alpha 1.0: filters are already multiples of 8). */
const BLOCKS: ReadonlyArray<readonly [number, number, number]> = [
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
const correctPad = (size: number): [number, number] => [size % 2, 1];

export function peerMobileNetV2(tf: Tf, weights: ReadonlyMap<string, NamedWeight>): PeerMobileNet {
  const held = new Map<string, TF.Tensor>();
  const w = <T extends TF.Tensor>(name: string): T => {
    let t = held.get(name);
    if (!t) {
      const e = weights.get(name);
      if (!e) throw new Error(`peerMobileNetV2: weight '${name}' is missing`);
      t = tf.tensor(e.data, e.shape, 'float32');
      held.set(name, t);
    }
    return t as T;
  };
  const conv = (x: TF.Tensor4D, name: string, stride = 1) =>
    tf.conv2d(x, w<TF.Tensor4D>(`${name}/kernel`), stride, 'same');
  const bn = (x: TF.Tensor4D, name: string) =>
    tf.batchNorm(
      x,
      w<TF.Tensor1D>(`${name}/moving_mean`),
      w<TF.Tensor1D>(`${name}/moving_variance`),
      w<TF.Tensor1D>(`${name}/beta`),
      w<TF.Tensor1D>(`${name}/gamma`),
      1e-3,
    );
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
    forward(x) {
      let y = relu6(bn(conv(x, 'Conv1', 2), 'bn_Conv1'));
      for (let id = 0; id < BLOCKS.length; id++) y = block(y, id);
      return relu6(bn(conv(y, 'Conv_1'), 'Conv_1_bn'));
    },
    dispose() {
      for (const t of held.values()) t.dispose();
      held.clear();
    },
  };
}
