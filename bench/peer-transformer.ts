import type * as TF from '@tensorflow/tfjs-core';
import type { Tf } from './peer-tfjs.js';

/**
 * The transformer pieces in TensorFlow.js (tfjs-core ops; TF.js has no fused attention and no
 * layer-norm op): attention as matMul + softmax + matMul with the [batch, heads, T, T] score
 * matrix, layer norm from `moments`, gelu from `erf`, and the example's decoder-only model (the
 * same computation as examples/transformer/model.ts) on weights copied from ours.
 */

/** softmax(q kᵀ scale + causal mask) v for q, k, v [b, T, h, d] (Keras' formulation). */
export function tfAttention(tf: Tf, q: TF.Tensor, k: TF.Tensor, v: TF.Tensor, causal: boolean): TF.Tensor {
  const [, tq, , d] = q.shape as number[];
  const tk = k.shape[1] as number;
  const qt = tf.transpose(q, [0, 2, 1, 3]) as TF.Tensor4D;
  const kt = tf.transpose(k, [0, 2, 1, 3]) as TF.Tensor4D;
  const vt = tf.transpose(v, [0, 2, 1, 3]) as TF.Tensor4D;
  let s = tf.mul(tf.matMul(qt, kt, false, true), 1 / Math.sqrt(d));
  if (causal) {
    const keep = tf.linalg.bandPart(tf.ones([tq, tk]), -1, 0);
    s = tf.add(tf.mul(s, keep), tf.mul(tf.sub(1, keep), -1e9));
  }
  return tf.transpose(tf.matMul(tf.softmax(s), vt), [0, 2, 1, 3]);
}

export function tfLayerNorm(tf: Tf, x: TF.Tensor, gamma: TF.Tensor, beta: TF.Tensor, eps: number): TF.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

export function tfGelu(tf: Tf, x: TF.Tensor): TF.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** The example's model from named weights (our variable names, copied into TF.js variables). */
export function tfGpt(
  tf: Tf,
  w: Map<string, TF.Variable>,
  cfg: { layers: number; heads: number; dim: number },
): (ids: TF.Tensor2D) => TF.Tensor {
  const W = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`bench: no TF.js weight ${n}`);
    return t;
  };
  const dense = (x: TF.Tensor, name: string, units: number) =>
    tf.add(
      tf.matMul(
        tf.reshape(x, [-1, x.shape[x.rank - 1]]) as TF.Tensor2D,
        tf.reshape(W(`${name}/kernel`), [-1, units]) as TF.Tensor2D,
      ),
      tf.reshape(W(`${name}/bias`), [units]),
    );
  return (ids) => {
    const [b, t] = ids.shape;
    const { dim, heads } = cfg;
    const kd = dim / heads;
    let x = tf.add(
      tf.gather(W('embed/token_embedding/embeddings'), ids),
      tf.slice(W('embed/position_embedding/embeddings'), [0, 0], [t, dim]),
    );
    for (let l = 0; l < cfg.layers; l++) {
      const p = `block${l}`;
      const h = tfLayerNorm(tf, x, W(`${p}/ln1/gamma`), W(`${p}/ln1/beta`), 1e-5);
      const proj = (n: string) => tf.reshape(dense(h, `${p}/attn/${n}`, dim), [b, t, heads, kd]);
      const o = tf.reshape(tfAttention(tf, proj('query'), proj('key'), proj('value'), true), [b, t, dim]);
      x = tf.add(x, tf.reshape(dense(o, `${p}/attn/attention_output`, dim), [b, t, dim]));
      const h2 = tfLayerNorm(tf, x, W(`${p}/ln2/gamma`), W(`${p}/ln2/beta`), 1e-5);
      const up = tfGelu(tf, dense(h2, `${p}/mlp_up`, 4 * dim));
      x = tf.add(x, tf.reshape(dense(up, `${p}/mlp_down`, dim), [b, t, dim]));
    }
    const f = tfLayerNorm(tf, x, W('ln_f/gamma'), W('ln_f/beta'), 1e-5);
    return dense(f, 'head', W('head/bias').shape[0]);
  };
}
