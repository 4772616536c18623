import type * as TF from '@tensorflow/tfjs-core';
import { AdamW, sync, type Tensor, tensor, type Variable, variable } from '../src/node.js';
import { maxAbsDiff, seededUniform } from './harness.js';
import type { Session, SessionCase } from './model-cases.js';

/**
 * One optimizer step at the size of the lab's dense net (Flatten -> Dense(500) -> Dense(50) ->
 * Dense(5) on 192x192x3: 110592x500 + 500 + 500x50 + 50 + 50x5 + 5 = 55.3M weights): AdamW
 * (Keras 3: decoupled weight decay `w -= w * wd * lr`, then Adam with epsilon outside the square
 * root and the bias correction folded into the step). Ours: `applyGradients`, one fused kernel
 * per variable (chunked where a variable exceeds the binding limit). TF.js: the same formulas in
 * tfjs-core ops (its `tf.train.adam` adds epsilon after the bias correction, so its weights would
 * differ by up to lr where a gradient is near 0), with the first kernel held as row blocks that
 * fit lavapipe's binding limit. Gradients are fixed tensors on both sides.
 */

const SHAPES = [[110592, 500], [500], [500, 50], [50], [50, 5], [5]];
const LR = 1e-3;
const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-7;
const WD = 0.004;

function adamwStep(): SessionCase {
  const total = SHAPES.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  return {
    group: 'train',
    op: 'AdamW step',
    shape: `${(total / 1e6).toFixed(1)}M weights (dense net) wd ${WD}`,
    unit: 'steps/s',
    work: 1,
    warmup: 1,
    async setup(peer) {
      const { tf } = peer;
      const data = SHAPES.map((s, i) =>
        seededUniform(
          s.reduce((a, b) => a * b, 1),
          100 + i,
          -0.05,
          0.05,
        ),
      );
      const gdata = SHAPES.map((s, i) =>
        seededUniform(
          s.reduce((a, b) => a * b, 1),
          200 + i,
          -1,
          1,
        ),
      );
      const ours: Variable[] = data.map((d, i) => {
        const t = tensor(d, SHAPES[i]);
        const v = variable(t, { name: `w${i}` });
        t.dispose();
        return v;
      });
      const grads: Tensor[] = gdata.map((d, i) => tensor(d, SHAPES[i]));
      const opt = new AdamW({ learningRate: LR, beta1: B1, beta2: B2, epsilon: EPS, weightDecay: WD });
      const pairs = ours.map((v, i) => [v, grads[i]] as [Variable, Tensor]);

      // TF.js: split every array into row blocks that fit the binding limit.
      const blocks = (shape: number[]) => {
        const cols = shape.length > 1 ? shape[1] : 1;
        const maxRows = Math.floor(peer.maxBindingBytes / (cols * 4));
        const rows = Math.ceil(shape[0] / Math.ceil(shape[0] / maxRows));
        const out: Array<[number, number]> = [];
        for (let r = 0; r < shape[0]; r += rows) out.push([r, Math.min(rows, shape[0] - r)]);
        return { cols, out };
      };
      const parts: Array<{ w: TF.Variable; m: TF.Variable; v: TF.Variable; g: TF.Tensor }> = [];
      SHAPES.forEach((shape, i) => {
        const { cols, out } = blocks(shape);
        for (const [r, n] of out) {
          const sub = (a: Float32Array) => a.subarray(r * cols, (r + n) * cols);
          const s = [n, ...shape.slice(1)];
          parts.push(
            tf.tidy(() => ({
              w: tf.variable(tf.tensor(sub(data[i]), s)),
              m: tf.variable(tf.zeros(s)),
              v: tf.variable(tf.zeros(s)),
              g: tf.tensor(sub(gdata[i]), s),
            })),
          );
        }
      });
      let t = 0;
      const peerStep = async () => {
        t++;
        const alpha = (LR * Math.sqrt(1 - B2 ** t)) / (1 - B1 ** t);
        tf.tidy(() => {
          for (const p of parts) {
            const w = tf.sub(p.w, tf.mul(p.w, WD * LR));
            const m = tf.add(p.m, tf.mul(tf.sub(p.g, p.m), 1 - B1));
            const v = tf.add(p.v, tf.mul(tf.sub(tf.square(p.g), p.v), 1 - B2));
            p.m.assign(m);
            p.v.assign(v);
            p.w.assign(tf.sub(w, tf.div(tf.mul(m, alpha), tf.add(tf.sqrt(v), EPS))));
          }
        });
        await peer.sync();
      };
      const ourStep = async () => {
        opt.applyGradients(pairs);
        await sync();
      };
      const session: Session = {
        async check() {
          // Two steps each from the same weights; every element compared.
          for (let k = 0; k < 2; k++) {
            await ourStep();
            await peerStep();
          }
          let d = 0;
          let off = 0;
          for (const v of ours) {
            const a = await v.data();
            const b = new Float32Array(a.length);
            let at = 0;
            for (; off < parts.length && at < a.length; off++) {
              const pd = await parts[off].w.data();
              b.set(pd, at);
              at += pd.length;
            }
            d = Math.max(d, maxAbsDiff(a, b));
          }
          const tol = 1e-6;
          return {
            ok: d <= tol,
            text: `${d <= tol ? 'ok' : 'FAIL'} weights after 2 steps max |diff| ${d.toExponential(1)} (tol ${tol})`,
          };
        },
        ours: { run: ourStep, cleanup: () => {} },
        peer: { run: peerStep, cleanup: () => {} },
        dispose() {
          opt.dispose();
          for (const x of [...ours, ...grads]) x.dispose();
          for (const p of parts) for (const x of [p.w, p.m, p.v, p.g]) x.dispose();
        },
      };
      return session;
    },
  };
}

/** Optimizer-step cases (group 'train'). */
export const OPTIMIZER_CASES: SessionCase[] = [adamwStep()];
