import type * as TF from '@tensorflow/tfjs-core';
import {
  Adam,
  Dense,
  Flatten,
  Sequential,
  SGD,
  sync,
  type Tensor,
  tensor,
  type Variable,
  variableGrads,
} from '../src/node.js';
import { maxAbsDiff, seededUniform } from './harness.js';
import { bothMobileNets, images, peerSplitNote, type Session, type SessionCase } from './model-cases.js';
import { microBatches } from './peer-mobilenet.js';
import type { Peer, Tf } from './peer-tfjs.js';

/**
 * Training-step cases: the lab's dense net, and the flowers model (MobileNetV2 + Flatten +
 * Dense(5, softmax), Adam) with a frozen base at batch 16 and 64 and with the whole network
 * trainable at batch 16. Ours: the public `fit` over exactly one batch. TF.js: `tf.variableGrads`
 * + `applyGradients`, over micro-batches with summed gradients where a batch's activations exceed
 * the binding limit.
 */

type Named = Array<[string, ArrayLike<number>, ArrayLike<number>]>;

/** Both sides of a training-step case. */
interface TrainPair {
  /** One step; resolves with the batch loss once the update has completed on the GPU. */
  ours(): Promise<number>;
  peer(): Promise<number>;
  /** Weights to compare after the check steps: [name, ours, TF.js]. */
  weights(): Promise<Named>;
  /**
   * Loss and gradients from the initial weights on both sides, without updating anything (the
   * direct check of the backward pass, and of TF.js's summed micro-batch gradients).
   */
  grads?(): Promise<{ loss: [number, number]; grads: Named }>;
  /** Tolerance of the gradients' relative L2 error, per variable (see `compareGrads`). */
  gradTol?: number;
  /** Steps per side in the check (default 2). */
  checkSteps?: number;
  /**
   * Set for Adam: Keras (and we) add epsilon to sqrt(v) before the bias correction, TF.js after,
   * so a weight whose gradient is within a few epsilons of 0 moves by a different fraction of the
   * learning rate. Each step moves a weight by at most about lr on either side, so the weights
   * must agree within 2 * lr after the check steps, and later losses are reported, not gated.
   */
  adamLr?: number;
  /** Appended to the check text (how TF.js split the batch). */
  note?: string;
  dispose(): void;
}

const TOL = 1e-3;

function worst(pairs: Named): { d: number; where: string } {
  let d = 0;
  let where = '';
  for (const [name, a, b] of pairs) {
    const e = maxAbsDiff(a, b);
    if (e >= d) [d, where] = [e, name];
  }
  return { d, where };
}

const norm = (a: ArrayLike<number>, b?: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s);
};

/**
 * Gradients agree when, per variable, ||ours - TF.js|| <= tol * ||TF.js|| (L2 norms), except for
 * gradients that are zero in exact arithmetic: with BatchNormalization in training mode, the
 * gradient of a `project_BN` beta is 0 (its shift reaches the loss only through a conv and another
 * training-mode BN, which subtracts it again), so both libraries return float32 noise (~1e-9) there.
 * Variables whose gradient norm is below 1e-6 of the largest are held to ||ours - TF.js|| <= 1e-6
 * of the largest norm instead. The text gives the relative L2 error of all gradients together and
 * the worst variable.
 */
function compareGrads(pairs: Named, tol: number): { ok: boolean; text: string } {
  const norms = pairs.map(([, a, b]) => ({ diff: norm(a, b), ref: norm(b) }));
  const big = Math.max(...norms.map((n) => n.ref));
  let ok = true;
  let worstRel = 0;
  let where = '';
  let tiny = 0;
  let diff2 = 0;
  let ref2 = 0;
  norms.forEach(({ diff, ref }, i) => {
    diff2 += diff ** 2;
    ref2 += ref ** 2;
    if (ref < 1e-6 * big) {
      tiny++;
      ok &&= diff <= 1e-6 * big;
      return;
    }
    const rel = diff / ref;
    ok &&= rel <= tol;
    if (rel >= worstRel) [worstRel, where] = [rel, pairs[i][0]];
  });
  const all = Math.sqrt(diff2 / ref2);
  return {
    ok,
    text:
      `rel L2 ${all.toExponential(1)} over ${pairs.length} vars, worst ${where} ${worstRel.toExponential(1)} ` +
      `(tol ${tol.toExponential(0)}${tiny > 0 ? `; ${tiny} zero in exact arithmetic` : ''})`,
  };
}

/**
 * The check: optionally the gradients from the initial weights, then `checkSteps` steps on each
 * side from the same weights: the first loss checks the forward pass, the later ones and the
 * updated weights check the gradients and the optimizer.
 */
function trainSession(pair: TrainPair): Session {
  return {
    async check() {
      const parts: string[] = [];
      let ok = true;
      if (pair.grads) {
        const g = await pair.grads();
        const dl = Math.abs(g.loss[0] - g.loss[1]);
        const c = compareGrads(g.grads, pair.gradTol ?? TOL);
        ok &&= dl <= TOL && c.ok;
        parts.push(`grads: loss ${dl.toExponential(1)}, ${c.text}`);
      }
      const steps = pair.checkSteps ?? 2;
      const losses: Array<[number, number]> = [];
      for (let i = 0; i < steps; i++) losses.push([await pair.ours(), await pair.peer()]);
      losses.forEach(([a, b], i) => {
        const d = Math.abs(a - b);
        if (i === 0 || pair.adamLr === undefined) ok &&= d <= TOL;
        parts.push(`loss${i + 1} ${a.toFixed(4)}/${b.toFixed(4)} ${d.toExponential(1)}`);
      });
      const wTol = pair.adamLr === undefined ? TOL : 2 * pair.adamLr;
      if (steps > 0) {
        const w = worst(await pair.weights());
        ok &&= w.d <= wTol;
        parts.push(`${w.where} ${w.d.toExponential(1)}`);
      }
      const tol =
        steps === 0
          ? 'no step compared'
          : pair.adamLr === undefined
            ? `tol ${TOL.toExponential(0)}`
            : `tol loss1 ${TOL.toExponential(0)}, weights 2 lr = ${wTol.toExponential(0)}`;
      return { ok, text: `${ok ? 'ok' : 'FAIL'} ${parts.join(', ')} (${tol})${pair.note ?? ''}` };
    },
    ours: { run: () => pair.ours(), cleanup: () => {} },
    peer: { run: () => pair.peer(), cleanup: () => {} },
    dispose: () => pair.dispose(),
  };
}

/** TF.js variables holding a copy of our variables' values (in row blocks of at most `rows`). */
async function copyVariable(tf: Tf, v: Variable, rows = v.shape[0]): Promise<TF.Variable[]> {
  const data = await v.data();
  const cols = v.size / v.shape[0];
  const out: TF.Variable[] = [];
  for (let r = 0; r < v.shape[0]; r += rows) {
    const n = Math.min(rows, v.shape[0] - r);
    out.push(
      tf.tidy(() =>
        tf.variable(tf.tensor(data.subarray(r * cols, (r + n) * cols), [n, ...v.shape.slice(1)])),
      ),
    );
  }
  return out;
}

/** Our public training step: `fit` over exactly one batch (no shuffle, no metrics, silent). */
async function fitStep(model: Sequential, x: Tensor, y: Tensor): Promise<number> {
  const h = await model.fit(x, y, { epochs: 1, batchSize: x.shape[0], verbose: 0, shuffle: false });
  await sync();
  return h.history.loss[0];
}

/** Our loss and gradients, computed as `fit`'s step does, without applying them. */
async function ourGrads(
  model: Sequential,
  x: Tensor,
  y: Tensor,
): Promise<{ loss: number; grads: Map<Variable, Float32Array> }> {
  const { value, grads } = variableGrads(
    () => model.loss!(y, model.apply(x, { training: true })),
    model.trainableWeights,
  );
  const out = new Map<Variable, Float32Array>();
  for (const [v, g] of grads) {
    out.set(v, (await g.data()) as Float32Array);
    g.dispose();
  }
  const loss = (await value.data())[0];
  value.dispose();
  return { loss, grads: out };
}

/** TF.js: `optimizer.minimize` over the given variables; reads the loss back, awaits the GPU. */
async function minimizeStep(
  peer: Peer,
  opt: TF.Optimizer,
  loss: () => TF.Scalar,
  vars: TF.Variable[],
): Promise<number> {
  const cost = opt.minimize(loss, true, vars)!;
  const v = (await cost.data())[0];
  cost.dispose();
  await peer.sync();
  return v;
}

/**
 * TF.js loss and gradients of a batch of `n` over micro-batches: each slice's mean loss weighted by
 * its share of the batch, gradients summed, so the result is the whole batch's (one slice: exactly
 * `tf.variableGrads`, what `minimize` runs).
 */
function peerGrads(
  tf: Tf,
  lossOn: (start: number, len: number) => TF.Scalar,
  vars: TF.Variable[],
  slices: ReadonlyArray<[number, number]>,
  n: number,
): { value: TF.Scalar; grads: TF.NamedTensorMap } {
  let value: TF.Scalar | undefined;
  let sum: TF.NamedTensorMap | undefined;
  for (const [s, len] of slices) {
    const f = () => (len === n ? lossOn(s, len) : (tf.mul(lossOn(s, len), len / n) as TF.Scalar));
    const r = tf.variableGrads(f, vars);
    if (!value || !sum) {
      [value, sum] = [r.value, r.grads];
      continue;
    }
    const v = tf.add(value, r.value) as TF.Scalar;
    value.dispose();
    r.value.dispose();
    value = v;
    for (const [k, g] of Object.entries(r.grads)) {
      const t = tf.add(sum[k], g);
      sum[k].dispose();
      g.dispose();
      sum[k] = t;
    }
  }
  return { value: value!, grads: sum! };
}

/** One TF.js step over micro-batches: summed gradients, one `applyGradients`. */
async function peerStep(
  peer: Peer,
  opt: TF.Optimizer,
  lossOn: (start: number, len: number) => TF.Scalar,
  vars: TF.Variable[],
  slices: ReadonlyArray<[number, number]>,
  n: number,
): Promise<number> {
  const { value, grads } = peerGrads(peer.tf, lossOn, vars, slices, n);
  opt.applyGradients(grads);
  for (const g of Object.values(grads)) g.dispose();
  const v = (await value.data())[0];
  value.dispose();
  await peer.sync();
  return v;
}

const labels = (n: number, classes: number) =>
  Int32Array.from({ length: n }, (_, i) => (i * 7 + 3) % classes);

/**
 * The lab's dense net on 192x192x3 inputs: Flatten -> Dense(500, relu) -> Dense(50, relu) ->
 * Dense(5, softmax), sparse categorical cross-entropy, SGD(0.01, momentum 0.9). TF.js cannot bind
 * the first kernel ([110592,500] = 221 MB > lavapipe's 128 MiB binding limit), so the peer holds it
 * as row blocks that fit and sums the partial products.
 */
function denseTrainStep(batch = 64, size = 192): SessionCase {
  const features = size * size * 3;
  return {
    group: 'train',
    op: 'train step',
    shape: `dense [${batch},${size},${size},3] Flatten-500-50-5, SGD momentum`,
    unit: 'img/s',
    work: batch,
    warmup: 0, // the check's two steps are the warm-up
    async setup(peer) {
      const { tf } = peer;
      const d1 = new Dense({ units: 500, activation: 'relu', seed: 1 });
      const d2 = new Dense({ units: 50, activation: 'relu', seed: 2 });
      const d3 = new Dense({ units: 5, activation: 'softmax', seed: 3 });
      const model = new Sequential([new Flatten({ inputShape: [size, size, 3] }), d1, d2, d3]);
      model.compile({
        optimizer: new SGD({ learningRate: 0.01, momentum: 0.9 }),
        loss: 'sparseCategoricalCrossentropy',
      });
      const xData = seededUniform(batch * features, 61, 0, 1); // pixels rescaled to [0, 1]
      const yData = labels(batch, 5);
      const x = tensor(xData, [batch, size, size, 3]);
      const y = tensor(yData, [batch], 'int32');

      const maxRows = Math.floor(peer.maxBindingBytes / (500 * 4));
      const blockRows = Math.ceil(features / Math.ceil(features / maxRows));
      const k1 = await copyVariable(tf, d1.kernel!, blockRows);
      const [b1, k2, b2, k3, b3] = await Promise.all(
        [d1.bias!, d2.kernel!, d2.bias!, d3.kernel!, d3.bias!].map(
          async (v) => (await copyVariable(tf, v))[0],
        ),
      );
      const vars = [...k1, b1, k2, b2, k3, b3];
      const px = tf.tensor2d(xData, [batch, features]); // Flatten is a reshape on both sides
      const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(yData, 'int32'), 5), 'float32'));
      const opt = tf.train.momentum(0.01, 0.9);
      const loss = () => {
        const parts = k1.map((k, i) => tf.matMul(tf.slice(px, [0, i * blockRows], [batch, k.shape[0]]), k));
        const h1 = tf.relu(tf.add(parts.length === 1 ? parts[0] : tf.addN(parts), b1));
        const h2 = tf.fused.matMul({ a: h1, b: k2 as TF.Tensor2D, bias: b2, activation: 'relu' });
        const logits = tf.fused.matMul({ a: h2, b: k3 as TF.Tensor2D, bias: b3 });
        return tf.losses.softmaxCrossEntropy(onehot, logits) as TF.Scalar;
      };
      return trainSession({
        ours: () => fitStep(model, x, y),
        peer: () => minimizeStep(peer, opt, loss, vars),
        weights: async () => [
          ['kernel3', await d3.kernel!.data(), await k3.data()],
          ['kernel2', await d2.kernel!.data(), await k2.data()],
          ['bias1', await d1.bias!.data(), await b1.data()],
        ],
        dispose() {
          model.dispose();
          x.dispose();
          y.dispose();
          opt.dispose();
          // TF.js 4.22: MomentumOptimizer.dispose() forgets the learning-rate scalar of its SGD base.
          (opt as unknown as { c?: TF.Tensor }).c?.dispose();
          for (const t of [...vars, px, onehot]) t.dispose();
        },
      });
    },
  };
}

/**
 * The flowers model: Sequential([MobileNetV2, Flatten, Dense(5, softmax)]), Adam(0.001). Frozen
 * (`trainable = false`, as in the lab): only the head gets gradients; both libraries run the base's
 * forward pass inside the step, BatchNormalization in inference mode. `whole`: every layer trains,
 * BatchNormalization in training mode (batch statistics, moving statistics updated), as Keras'
 * `fit` does on a trainable MobileNetV2. A batch whose activations exceed one binding runs on our
 * side as our Functional model splits it, on TF.js's as the same micro-batches with summed gradients.
 */
function flowersTrainStep(batch: number, whole = false, size = 192): SessionCase {
  const base = whole ? 'trainable' : 'frozen';
  return {
    group: 'train mobilenet',
    op: 'train step',
    shape: `flowers [${batch},${size},${size},3] ${base} MobileNetV2+Dense(5), Adam`,
    unit: 'img/s',
    work: batch,
    warmup: 0, // the check's steps (or gradients) are the warm-up
    // TF.js takes 15-70 s per step here on lavapipe: two timed steps per side at least.
    minReps: whole || batch > 16 ? 2 : undefined,
    async setup(peer) {
      const { tf } = peer;
      const nets = await bothMobileNets(tf, size, whole);
      if ('skip' in nets) return nets;
      const net = nets.peer;
      nets.ours.trainable = whole;
      const head = new Dense({ units: 5, activation: 'softmax', seed: 5 });
      const model = new Sequential([nets.ours, new Flatten(), head]);
      const lr = 0.001;
      model.compile({ optimizer: new Adam({ learningRate: lr }), loss: 'sparseCategoricalCrossentropy' });
      const xData = images(batch, size, 83);
      const yData = labels(batch, 5);
      const x = tensor(xData, [batch, size, size, 3]);
      const y = tensor(yData, [batch], 'int32');

      const [kernel] = await copyVariable(tf, head.kernel!);
      const [bias] = await copyVariable(tf, head.bias!);
      const vars = [...net.trainable.values(), kernel, bias];
      const px = tf.tensor4d(xData, [batch, size, size, 3]);
      const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(yData, 'int32'), 5), 'float32'));
      const opt = tf.train.adam(lr, 0.9, 0.999, 1e-7); // Keras' defaults, as our Adam
      const slices = microBatches(batch, size, peer.maxBindingBytes);
      const lossOn = (s: number, len: number) => {
        const xs = len === batch ? px : tf.slice(px, [s, 0, 0, 0], [len, -1, -1, -1]);
        const ys = len === batch ? onehot : tf.slice(onehot, [s, 0], [len, -1]);
        const features = tf.reshape(net.forward(xs, whole), [len, -1]) as TF.Tensor2D;
        const logits = tf.fused.matMul({ a: features, b: kernel as TF.Tensor2D, bias });
        return tf.losses.softmaxCrossEntropy(ys, logits) as TF.Scalar;
      };
      // Our variables by name, for the gradient and weight comparisons.
      const ourVar = new Map(model.trainableWeights.map((v) => [v.name ?? '', v]));
      const named = (name: string): [Variable, TF.Variable] =>
        name === 'head/kernel'
          ? [head.kernel!, kernel]
          : name === 'head/bias'
            ? [head.bias!, bias]
            : [ourVar.get(name)!, net.trainable.get(name)!];
      const compared = [
        'head/kernel',
        'head/bias',
        ...(whole ? ['Conv1/kernel', 'block_16_project/kernel'] : []),
      ];
      return trainSession({
        ours: () => fitStep(model, x, y),
        peer: () => peerStep(peer, opt, lossOn, vars, slices, batch),
        async grads() {
          const o = await ourGrads(model, x, y);
          const p = tf.tidy(() => peerGrads(tf, lossOn, vars, slices, batch));
          const names = ['head/kernel', 'head/bias', ...net.trainable.keys()];
          const out: Named = [];
          for (const name of names) {
            const [ov, pv] = named(name);
            out.push([name, o.grads.get(ov)!, await p.grads[pv.name].data()]);
          }
          const loss: [number, number] = [o.loss, (await p.value.data())[0]];
          p.value.dispose();
          for (const g of Object.values(p.grads)) g.dispose();
          return { loss, grads: out };
        },
        gradTol: whole ? 5e-2 : TOL,
        checkSteps: whole ? 0 : batch === 16 ? 2 : 1,
        weights: async () => {
          const out: Named = [];
          for (const name of compared) {
            const [ov, pv] = named(name);
            out.push([name, await ov.data(), await pv.data()]);
          }
          return out;
        },
        adamLr: lr,
        note: peerSplitNote(slices),
        dispose() {
          model.dispose();
          net.dispose();
          x.dispose();
          y.dispose();
          opt.dispose();
          for (const t of [kernel, bias, px, onehot]) t.dispose();
        },
      });
    },
  };
}

export const TRAIN_CASES: SessionCase[] = [
  denseTrainStep(),
  flowersTrainStep(16),
  flowersTrainStep(64),
  flowersTrainStep(16, true),
];
