import type * as TF from '@tensorflow/tfjs-core';
import { Gpt } from '../examples/transformer/model.js';
import { Task } from '../examples/transformer/task.js';
import {
  Adam,
  composedAttention,
  dotProductAttention,
  drainPool,
  mean,
  memory,
  resetPeakBytes,
  reshape,
  slice,
  sparseSoftmaxCrossEntropy,
  sync,
  type Tensor,
  tensor,
  tidy,
  valueAndGrads,
  variableGrads,
} from '../src/index.js';
import { mul } from '../src/kernels/binary.js';
import { concat } from '../src/kernels/concat.js';
import { sum } from '../src/kernels/reduce.js';
import { maxAbs, maxAbsDiff, seededUniform } from './harness.js';
import type { Session, SessionCase } from './model-cases.js';
import type { Peer } from './peer-tfjs.js';
import { tfAttention, tfGpt } from './peer-transformer.js';

/**
 * The transformer cases (group 'transformer'): fused attention forward + backward against
 * TF.js's composed attention, our composed attention (the memory comparison), and one training
 * step of the example's model (examples/transformer) against the same model in TF.js.
 */

type AttnFn = (q: Tensor, k: Tensor, v: Tensor) => Tensor;

function attentionCase(b: number, t: number, h: number, d: number, which: 'fused' | 'composed'): SessionCase {
  const shape = [b, t, h, d];
  const n = b * t * h * d;
  const fn: AttnFn =
    which === 'fused'
      ? (q, k, v) => dotProductAttention(q, k, v, { causal: true })
      : (q, k, v) => composedAttention(q, k, v, { causal: true });
  return {
    group: 'transformer',
    op: `attention fwd+bwd (${which}, causal)`,
    shape: `[${shape.join(',')}] (batch, T, heads, dim)`,
    unit: 'tokens/s',
    work: b * t,
    async setup(peer: Peer): Promise<Session> {
      const { tf } = peer;
      const data = [1, 2, 3, 4].map((s) => seededUniform(n, 100 + s));
      const ours = data.map((a) => tensor(a, shape));
      const theirs = data.map((a) => tf.tensor(a, shape));
      // d/d(q, k, v) of sum(attention(q, k, v) * w): every gradient of the backward pass.
      const run = () =>
        tidy(() => {
          const { value, grads } = valueAndGrads((q: Tensor, k: Tensor, v: Tensor) =>
            sum(mul(fn(q, k, v), ours[3])),
          )(ours.slice(0, 3));
          return concat([reshape(value, [1]), ...grads.map((g) => reshape(g, [-1]))]);
        });
      const grad = tf.grads((q: TF.Tensor, k: TF.Tensor, v: TF.Tensor) =>
        tf.sum(tf.mul(tfAttention(tf, q, k, v, true), theirs[3])),
      );
      const runPeer = () =>
        tf.tidy(() => tf.concat(grad(theirs.slice(0, 3)).map((g) => tf.reshape(g, [-1]))));
      return {
        async check() {
          const a = run();
          const bT = runPeer();
          const x = (await a.data()).subarray(1);
          const y = await bT.data();
          a.dispose();
          bT.dispose();
          const diff = maxAbsDiff(x, y);
          const ok = diff <= 1e-4 * maxAbs(y) + 1e-5;
          return {
            ok,
            text: `${ok ? 'ok' : 'FAIL'} dq, dk, dv max|diff| ${diff.toExponential(1)} (max ${maxAbs(y).toExponential(1)})`,
          };
        },
        ours: {
          run: async () => {
            const r = run();
            await sync();
            return r;
          },
          cleanup: (r) => (r as Tensor).dispose(),
        },
        peer: {
          run: async () => {
            const r = runPeer();
            await peer.sync();
            return r;
          },
          cleanup: (r) => (r as TF.Tensor).dispose(),
        },
        async extra() {
          // The most tensor bytes live at once during one forward + backward, beyond the inputs.
          await sync();
          drainPool();
          const before = memory().numBytes;
          resetPeakBytes();
          run().dispose();
          await sync();
          const ourPeak = memory().peakBytes - before;
          const peerBefore = tf.memory().numBytes;
          const prof = await tf.profile(() => runPeer());
          (prof.result as TF.Tensor).dispose();
          return { oursPeakBytes: ourPeak, peerPeakBytes: prof.peakBytes - peerBefore };
        },
        dispose() {
          for (const t of ours) t.dispose();
          for (const t of theirs) t.dispose();
        },
      };
    },
  };
}

/** One Adam step of the example's model (5-digit addition, batch 64), ours vs TF.js. */
function trainStepCase(): SessionCase {
  const batch = 64;
  const cfg = { layers: 2, heads: 4, dim: 64 };
  const task = new Task('add', 5, 1);
  const T = task.inputLength;
  const P = task.promptLength;
  const A = task.answerLength;
  const V = task.vocab;
  const lr = 1e-3;
  return {
    group: 'transformer',
    op: 'train step (example model, Adam)',
    shape: `add 5 digits: batch ${batch}, T ${T}, dim 64, 4 heads, 2 layers`,
    unit: 'tokens/s',
    work: batch * T,
    async setup(peer: Peer): Promise<Session> {
      const { tf } = peer;
      const model = new Gpt({ vocab: V, seqLen: T, ...cfg, seed: 1 });
      const b = task.batch(batch);
      const ids = tensor(b.inputs, [batch, T], 'int32');
      const answers = tensor(b.answers, [batch * A], 'int32');
      tidy(() => model.apply(ids)).dispose();
      const weights = model.trainableWeights;
      const tw = new Map<string, TF.Variable>();
      for (const w of weights) {
        const data = await w.data();
        tw.set(
          w.name!,
          tf.tidy(() => tf.variable(tf.tensor(data, [...w.shape]))),
        );
      }
      const tIds = tf.tensor2d(b.inputs, [batch, T], 'int32');
      const tAns = tf.tidy(() => tf.oneHot(tf.tensor1d(b.answers, 'int32'), V));
      const f = tfGpt(tf, tw, cfg);
      const opt = new Adam({ learningRate: lr });
      const tOpt = tf.train.adam(lr, 0.9, 0.999, 1e-7);
      const ourStep = async () => {
        const v = tidy(() => {
          const { value, grads } = variableGrads(() => {
            const logits = model.apply(ids, true);
            return mean(
              sparseSoftmaxCrossEntropy(
                answers,
                reshape(slice(logits, [0, P - 1, 0], [batch, A, V]), [-1, V]),
              ),
            );
          }, weights);
          opt.applyGradients(grads);
          return value;
        });
        const l = (await v.data())[0];
        v.dispose();
        return l;
      };
      const peerStep = async () => {
        const cost = tOpt.minimize(lossOf, true);
        const l = (await cost!.data())[0];
        cost!.dispose();
        return l;
      };
      const lossOf = () => {
        const logits = tf.reshape(f(tIds as TF.Tensor2D), [batch, T, V]);
        const ans = tf.reshape(tf.slice(logits, [0, P - 1, 0], [batch, A, V]), [-1, V]);
        return tf.losses.softmaxCrossEntropy(tAns, ans) as TF.Scalar;
      };
      /** Relative L2 error of every weight's gradient from the initial weights (TF.js the reference). */
      const gradCheck = async () => {
        const ours = variableGrads(() => {
          const logits = model.apply(ids, true);
          return mean(
            sparseSoftmaxCrossEntropy(answers, reshape(slice(logits, [0, P - 1, 0], [batch, A, V]), [-1, V])),
          );
        }, weights);
        const theirs = tf.variableGrads(lossOf);
        let worst = 0;
        let where = '';
        let zero = 0;
        const norms: number[] = [];
        const pairs: Array<[string, Float32Array, Float32Array]> = [];
        for (const w of weights) {
          const a = (await ours.grads.get(w)!.data()) as Float32Array;
          const c = (await theirs.grads[tw.get(w.name!)!.name].data()) as Float32Array;
          pairs.push([w.name!, a, c]);
          norms.push(Math.hypot(...c));
        }
        const big = Math.max(...norms);
        pairs.forEach(([name, a, c], i) => {
          let d = 0;
          for (let k = 0; k < a.length; k++) d += (a[k] - c[k]) ** 2;
          // Gradients that are zero in exact arithmetic (the key biases: softmax ignores a shift).
          if (norms[i] < 1e-6 * big) {
            zero++;
            if (Math.sqrt(d) > 1e-6 * big) worst = Number.POSITIVE_INFINITY;
            return;
          }
          const rel = Math.sqrt(d) / norms[i];
          if (rel >= worst) [worst, where] = [rel, name];
        });
        const lossDiff = Math.abs((await ours.value.data())[0] - (await theirs.value.data())[0]);
        ours.value.dispose();
        for (const g of ours.grads.values()) g.dispose();
        theirs.value.dispose();
        for (const g of Object.values(theirs.grads)) g.dispose();
        return {
          ok: worst <= 1e-4 && lossDiff <= 1e-4,
          text: `grads: loss ${lossDiff.toExponential(1)}, worst rel L2 ${worst.toExponential(1)} (${where}; ${zero} zero in exact arithmetic; tol 1e-4)`,
        };
      };
      return {
        async check() {
          const g = await gradCheck();
          const l1 = [await ourStep(), await peerStep()];
          const l2 = [await ourStep(), await peerStep()];
          let worst = 0;
          for (const w of weights)
            worst = Math.max(worst, maxAbsDiff(await w.data(), await tw.get(w.name!)!.data()));
          const ok = g.ok && Math.abs(l1[0] - l1[1]) <= 1e-3 && worst <= 2 * 2 * lr;
          return {
            ok,
            text: `${ok ? 'ok' : 'FAIL'} ${g.text}, loss1 ${l1[0].toFixed(4)}/${l1[1].toFixed(4)}, loss2 ${l2[0].toFixed(4)}/${l2[1].toFixed(4)}, weights after 2 steps max|diff| ${worst.toExponential(1)} (tol loss1 1e-3, weights 2 steps x 2 lr)`,
          };
        },
        ours: { run: ourStep, cleanup: () => {} },
        peer: { run: peerStep, cleanup: () => {} },
        dispose() {
          model.dispose();
          opt.dispose();
          tOpt.dispose();
          for (const v of tw.values()) v.dispose();
          for (const t of [ids, answers]) t.dispose();
          tIds.dispose();
          tAns.dispose();
        },
      };
    },
  };
}

export const TRANSFORMER_CASES: SessionCase[] = [
  attentionCase(8, 256, 4, 64, 'fused'),
  attentionCase(8, 256, 4, 64, 'composed'),
  trainStepCase(),
];
