/**
 * A float64 CPU reference of a small dense network (Dense relu -> Dense softmax) with sparse
 * categorical cross-entropy, trained by Keras' SGD-with-momentum formulas. Used to prove the
 * optimizer and training-loop math step by step.
 */

export interface MlpWeights {
  w1: Float64Array; // [inDim, hidden]
  b1: Float64Array; // [hidden]
  w2: Float64Array; // [hidden, classes]
  b2: Float64Array; // [classes]
}

export function mlpLossAndGrads(
  p: MlpWeights,
  x: Float64Array,
  y: Int32Array,
  n: number,
  inDim: number,
  hidden: number,
  classes: number,
): { loss: number; grads: MlpWeights } {
  const g: MlpWeights = {
    w1: new Float64Array(p.w1.length),
    b1: new Float64Array(p.b1.length),
    w2: new Float64Array(p.w2.length),
    b2: new Float64Array(p.b2.length),
  };
  let loss = 0;
  const h = new Float64Array(hidden);
  const z = new Float64Array(classes);
  for (let s = 0; s < n; s++) {
    for (let j = 0; j < hidden; j++) {
      let v = p.b1[j];
      for (let i = 0; i < inDim; i++) v += x[s * inDim + i] * p.w1[i * hidden + j];
      h[j] = Math.max(0, v);
    }
    let m = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) {
      let v = p.b2[c];
      for (let j = 0; j < hidden; j++) v += h[j] * p.w2[j * classes + c];
      z[c] = v;
      m = Math.max(m, v);
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(z[c] - m);
    loss += Math.log(sum) + m - z[y[s]];
    // d loss_s / d z = softmax - onehot, averaged over the batch.
    const dz = new Float64Array(classes);
    for (let c = 0; c < classes; c++) dz[c] = (Math.exp(z[c] - m) / sum - (c === y[s] ? 1 : 0)) / n;
    const dh = new Float64Array(hidden);
    for (let c = 0; c < classes; c++) {
      g.b2[c] += dz[c];
      for (let j = 0; j < hidden; j++) {
        g.w2[j * classes + c] += h[j] * dz[c];
        dh[j] += p.w2[j * classes + c] * dz[c];
      }
    }
    for (let j = 0; j < hidden; j++) {
      if (h[j] <= 0) continue;
      g.b1[j] += dh[j];
      for (let i = 0; i < inDim; i++) g.w1[i * hidden + j] += x[s * inDim + i] * dh[j];
    }
  }
  return { loss: loss / n, grads: g };
}

/** Keras SGD with momentum: v = momentum * v - lr * g; w += v. */
export function sgdMomentumStep(
  w: Float64Array,
  g: Float64Array,
  v: Float64Array,
  lr: number,
  momentum: number,
): void {
  for (let i = 0; i < w.length; i++) {
    v[i] = momentum * v[i] - lr * g[i];
    w[i] += v[i];
  }
}

/** Keras Adam (epsilon outside the square root, bias correction in the step size). */
export function adamStep(
  w: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  t: number,
  lr: number,
  b1 = 0.9,
  b2 = 0.999,
  eps = 1e-7,
): void {
  const lrT = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
  for (let i = 0; i < w.length; i++) {
    m[i] += (g[i] - m[i]) * (1 - b1);
    v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
    w[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + eps);
  }
}
