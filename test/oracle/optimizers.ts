/**
 * Keras 3 optimizers in float64 (keras/src/optimizers/*.py, base_optimizer.py): clipping (clipnorm,
 * else global_clipnorm, else clipvalue), decoupled weight decay with the step's learning rate, then
 * the rule's update_step; Nadam advances its u-product before the updates.
 */

export interface OracleOptimizer {
  name: 'SGD' | 'Adam' | 'AdamW' | 'RMSprop' | 'Adagrad' | 'Nadam';
  learningRate: number | ((step: number) => number);
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  amsgrad?: boolean;
  rho?: number;
  centered?: boolean;
  initialAccumulatorValue?: number;
  weightDecay?: number;
  clipnorm?: number;
  clipvalue?: number;
  globalClipnorm?: number;
}

const norm = (g: number[]) => Math.sqrt(g.reduce((s, x) => s + x * x, 0));

/** Runs `grads.length` steps on copies of `weights`; returns the final weights. */
export function oracleTrain(o: OracleOptimizer, weights: number[][], grads: number[][][]): number[][] {
  const w = weights.map((a) => [...a]);
  const zeros = () => w.map((a) => a.map(() => 0));
  const s1 = o.name === 'Adagrad' ? w.map((a) => a.map(() => o.initialAccumulatorValue ?? 0.1)) : zeros();
  const s2 = zeros();
  const s3 = zeros();
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const eps = o.epsilon ?? 1e-7;
  const wd = o.weightDecay ?? (o.name === 'AdamW' ? 0.004 : undefined);
  let uProduct = 1;
  const u = (t: number) => b1 * (1 - 0.5 * 0.96 ** t);
  for (let it = 0; it < grads.length; it++) {
    const lr = typeof o.learningRate === 'function' ? o.learningRate(it) : o.learningRate;
    let gs = grads[it].map((g) => [...g]);
    if (o.clipnorm) gs = gs.map((g) => g.map((x) => (x * o.clipnorm!) / Math.max(norm(g), o.clipnorm!)));
    else if (o.globalClipnorm) {
      const n = Math.sqrt(gs.reduce((s, g) => s + norm(g) ** 2, 0));
      const scale = o.globalClipnorm * Math.min(1 / n, 1 / o.globalClipnorm);
      gs = gs.map((g) => g.map((x) => x * scale));
    } else if (o.clipvalue)
      gs = gs.map((g) => g.map((x) => Math.min(o.clipvalue!, Math.max(-o.clipvalue!, x))));
    if (wd !== undefined) for (const a of w) for (let i = 0; i < a.length; i++) a[i] -= a[i] * wd * lr;
    const t = it + 1;
    if (o.name === 'Nadam') uProduct *= u(t);
    for (let k = 0; k < w.length; k++) {
      for (let i = 0; i < w[k].length; i++) {
        const g = gs[k][i];
        if (o.name === 'SGD') {
          const m = o.momentum ?? 0;
          if (m === 0) w[k][i] -= lr * g;
          else {
            const v = m * s1[k][i] - lr * g;
            s1[k][i] = v;
            w[k][i] += o.nesterov ? m * v - lr * g : v;
          }
        } else if (o.name === 'Adam' || o.name === 'AdamW') {
          const alpha = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
          s1[k][i] += (g - s1[k][i]) * (1 - b1);
          s2[k][i] += (g * g - s2[k][i]) * (1 - b2);
          let v = s2[k][i];
          if (o.amsgrad) {
            s3[k][i] = Math.max(s3[k][i], v);
            v = s3[k][i];
          }
          w[k][i] -= (s1[k][i] * alpha) / (Math.sqrt(v) + eps);
        } else if (o.name === 'RMSprop') {
          const rho = o.rho ?? 0.9;
          s1[k][i] = rho * s1[k][i] + (1 - rho) * g * g;
          let den = s1[k][i] + eps;
          if (o.centered) {
            s3[k][i] = rho * s3[k][i] + (1 - rho) * g;
            den = s1[k][i] - s3[k][i] ** 2 + eps;
          }
          const inc = (lr * g) / Math.sqrt(den);
          if ((o.momentum ?? 0) > 0) {
            s2[k][i] = o.momentum! * s2[k][i] + inc;
            w[k][i] -= s2[k][i];
          } else w[k][i] -= inc;
        } else if (o.name === 'Adagrad') {
          s1[k][i] += g * g;
          w[k][i] -= (lr * g) / Math.sqrt(s1[k][i] + eps);
        } else {
          const uT = u(t);
          const uT1 = u(t + 1);
          const up1 = uProduct * uT1;
          s1[k][i] += (g - s1[k][i]) * (1 - b1);
          s2[k][i] += (g * g - s2[k][i]) * (1 - b2);
          const mHat = (uT1 * s1[k][i]) / (1 - up1) + ((1 - uT) * g) / (1 - uProduct);
          const vHat = s2[k][i] / (1 - b2 ** t);
          w[k][i] -= (mHat * lr) / (Math.sqrt(vHat) + eps);
        }
      }
    }
  }
  return w;
}

/** Keras 3 schedules in float64, for checking ours at given steps. */
export const oracleSchedules = {
  cosine(step: number, lr0: number, decaySteps: number, alpha = 0, warmupTarget?: number, warmupSteps = 0) {
    const decay = (s: number, from: number) =>
      from * ((1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * s) / decaySteps)) + alpha);
    if (warmupTarget === undefined) return decay(Math.min(step, decaySteps), lr0);
    const s = Math.min(step, decaySteps + warmupSteps);
    return s < warmupSteps
      ? lr0 + ((warmupTarget - lr0) * s) / warmupSteps
      : decay(s - warmupSteps, warmupTarget);
  },
  polynomial(step: number, lr0: number, decaySteps: number, end = 1e-4, power = 1, cycle = false) {
    let ds = decaySteps;
    let s = step;
    if (cycle) ds = decaySteps * Math.max(1, Math.ceil(step / decaySteps));
    else s = Math.min(step, decaySteps);
    return (lr0 - end) * (1 - s / ds) ** power + end;
  },
  inverseTime(step: number, lr0: number, decaySteps: number, rate: number, staircase = false) {
    const p = staircase ? Math.floor(step / decaySteps) : step / decaySteps;
    return lr0 / (1 + rate * p);
  },
};
