import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs-core';
import {
  Adam,
  Dense,
  Flatten,
  type Functional,
  loadMobileNetV2Weights,
  mobileNetV2,
  readSafetensorsFile,
  Sequential,
  SGD,
  sync,
  type Tensor,
  tensor,
  tidy,
  toFloat32,
  type Variable,
} from '../src/node.js';
import { maxAbsDiff, type Side, seededUniform } from './harness.js';
import { type NamedWeight, type PeerMobileNet, peerMobileNetV2 } from './peer-mobilenet.js';
import type { Peer, Tf } from './peer-tfjs.js';

/**
 * Whole-model cases: MobileNetV2 inference and training steps. Each builds a model on our side and
 * the same model, with the same weights, in TF.js; checks that both compute the same thing; then
 * times one forward pass or one training step per repetition. Rates are images (samples) per second.
 */

export interface SessionCheck {
  ok: boolean;
  text: string;
}

export interface Session {
  /** Runs before timing (and warms both sides up): compares the two sides. */
  check(): Promise<SessionCheck>;
  ours: Side<unknown>;
  peer: Side<unknown>;
  dispose(): void;
}

export interface SessionCase {
  group: string;
  op: string;
  shape: string;
  unit: 'img/s';
  /** Images per repetition. */
  work: number;
  /** Untimed repetitions per side after the check (default: --warmup). */
  warmup?: number;
  /** Builds both sides, or returns why the case is skipped. */
  setup(peer: Peer): Promise<Session | { skip: string }>;
}

const FILE = 'mobilenet_v2_1.0_224_no_top.safetensors';
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The backbone weights: $WGSL_NN_WEIGHTS_DIR (the folder holding the file, or its parent), else ../shared. */
export function backbonePath(): string {
  const dir = process.env.WGSL_NN_WEIGHTS_DIR;
  if (dir === undefined) return join(repoRoot, '..', 'shared', 'weights', 'mobilenet_v2', FILE);
  const nested = join(dir, 'mobilenet_v2', FILE);
  return existsSync(nested) ? nested : join(dir, FILE);
}

async function backboneWeights(path: string): Promise<Map<string, NamedWeight>> {
  const parsed = await readSafetensorsFile(path);
  const out = new Map<string, NamedWeight>();
  for (const [name, e] of parsed.tensors) out.set(name, { shape: e.shape, data: toFloat32(e) });
  return out;
}

/** Our MobileNetV2 (frozen, ImageNet weights) and the TF.js one, or a skip note. */
async function bothMobileNets(
  tf: Tf,
  size: number,
): Promise<{ ours: Functional; peer: PeerMobileNet } | { skip: string }> {
  const path = backbonePath();
  if (!existsSync(path)) return { skip: `no MobileNetV2 weights at ${path} (set WGSL_NN_WEIGHTS_DIR)` };
  const ours = mobileNetV2({ inputShape: [size, size, 3], includeTop: false });
  await loadMobileNetV2Weights(ours, { backbone: path });
  return { ours, peer: peerMobileNetV2(tf, await backboneWeights(path)) };
}

/** Inputs shaped like preprocessed images, in [-1, 1]. */
const images = (n: number, size: number, seed: number) => seededUniform(n * size * size * 3, seed);
const labels = (n: number, classes: number) =>
  Int32Array.from({ length: n }, (_, i) => (i * 7 + 3) % classes);

function mobileNetInference(batch: number, size = 192): SessionCase {
  return {
    group: 'mobilenet',
    op: 'MobileNetV2 inference',
    shape: `[${batch},${size},${size},3] -> out_relu`,
    unit: 'img/s',
    work: batch,
    warmup: 1,
    async setup({ tf, sync: peerSync }) {
      const nets = await bothMobileNets(tf, size);
      if ('skip' in nets) return nets;
      const data = images(batch, size, 71 + batch);
      const x = tensor(data, [batch, size, size, 3]);
      const px = tf.tensor4d(data, [batch, size, size, 3]);
      const ours = () => tidy(() => nets.ours.apply(x, { training: false }));
      const peer = () => tf.tidy(() => nets.peer.forward(px));
      return {
        async check() {
          const y = ours();
          const a = await y.data();
          const shape = y.shape;
          y.dispose();
          const py = peer();
          const b = await py.data();
          py.dispose();
          const d = maxAbsDiff(a, b);
          const ok = d <= 1e-3;
          return { ok, text: `out_relu [${shape}] ${ok ? 'ok' : 'FAIL'} ${d.toExponential(1)} (tol 1e-3)` };
        },
        ours: { run: () => oursRun(ours), cleanup: dispose },
        peer: { run: () => peerRun(peer, peerSync), cleanup: dispose },
        dispose() {
          nets.ours.dispose();
          nets.peer.dispose();
          x.dispose();
          px.dispose();
        },
      };
    },
  };
}

const dispose = (t: unknown) => (t as { dispose(): void }).dispose();

async function oursRun(f: () => Tensor): Promise<Tensor> {
  const y = f();
  await sync();
  return y;
}

async function peerRun(f: () => TF.Tensor, peerSync: () => Promise<void>): Promise<TF.Tensor> {
  const y = f();
  await peerSync();
  return y;
}

// ---------------------------------------------------------------------------------------------
// Training steps.

/** Both sides of a training-step case. */
interface TrainPair {
  /** One step; resolves with the batch loss once the update has completed on the GPU. */
  ours(): Promise<number>;
  peer(): Promise<number>;
  /** Weights to compare after the check steps: [name, ours, TF.js]. */
  weights(): Promise<Array<[string, ArrayLike<number>, ArrayLike<number>]>>;
  /**
   * Set for Adam: Keras (and we) add epsilon to sqrt(v) before the bias correction, TF.js after,
   * so a weight whose gradient is within a few epsilons of 0 moves by a different fraction of the
   * learning rate. Each step moves a weight by at most about lr on either side, so the weights
   * must agree within 2 * lr after the two check steps, and the second loss is reported, not gated.
   */
  adamLr?: number;
  dispose(): void;
}

const TOL = 1e-3;

/**
 * The check runs two steps on each side from the same weights: the first loss checks the forward
 * pass, the second loss and the updated weights check the gradients and the optimizer.
 */
function trainSession(pair: TrainPair): Session {
  return {
    async check() {
      const losses: Array<[number, number]> = [];
      for (let i = 0; i < 2; i++) losses.push([await pair.ours(), await pair.peer()]);
      const parts: string[] = [];
      let ok = true;
      losses.forEach(([a, b], i) => {
        const d = Math.abs(a - b);
        if (i === 0 || pair.adamLr === undefined) ok &&= d <= TOL;
        parts.push(`loss${i + 1} ${a.toFixed(4)}/${b.toFixed(4)} ${d.toExponential(1)}`);
      });
      let worst = 0;
      let where = '';
      for (const [name, a, b] of await pair.weights()) {
        const d = maxAbsDiff(a, b);
        if (d >= worst) [worst, where] = [d, name];
      }
      const wTol = pair.adamLr === undefined ? TOL : 2 * pair.adamLr;
      ok &&= worst <= wTol;
      parts.push(`${where} ${worst.toExponential(1)}`);
      const tol =
        pair.adamLr === undefined
          ? `tol ${TOL.toExponential(0)}`
          : `tol loss1 ${TOL.toExponential(0)}, weights 2 lr = ${wTol.toExponential(0)}`;
      return { ok, text: `${ok ? 'ok' : 'FAIL'} ${parts.join(', ')} (${tol})` };
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
 * The flowers model with a frozen base: Sequential([MobileNetV2 (trainable = false), Flatten,
 * Dense(5, softmax)]), Adam(0.001). Only the head gets gradients; both libraries run the base's
 * forward pass inside the step (BatchNormalization in inference mode, as Keras does when frozen).
 */
function flowersTrainStep(batch = 16, size = 192): SessionCase {
  return {
    group: 'train mobilenet',
    op: 'train step',
    shape: `flowers [${batch},${size},${size},3] frozen MobileNetV2+Dense(5), Adam`,
    unit: 'img/s',
    work: batch,
    warmup: 0, // the check's two steps are the warm-up
    async setup(peer) {
      const { tf } = peer;
      const nets = await bothMobileNets(tf, size);
      if ('skip' in nets) return nets;
      const base = nets.ours;
      base.trainable = false;
      const head = new Dense({ units: 5, activation: 'softmax', seed: 5 });
      const model = new Sequential([base, new Flatten(), head]);
      const lr = 0.001;
      model.compile({ optimizer: new Adam({ learningRate: lr }), loss: 'sparseCategoricalCrossentropy' });
      const xData = images(batch, size, 83);
      const yData = labels(batch, 5);
      const x = tensor(xData, [batch, size, size, 3]);
      const y = tensor(yData, [batch], 'int32');

      const [kernel] = await copyVariable(tf, head.kernel!);
      const [bias] = await copyVariable(tf, head.bias!);
      const px = tf.tensor4d(xData, [batch, size, size, 3]);
      const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(yData, 'int32'), 5), 'float32'));
      const opt = tf.train.adam(lr, 0.9, 0.999, 1e-7); // Keras' defaults, as our Adam
      const loss = () => {
        const features = tf.reshape(nets.peer.forward(px), [batch, -1]) as TF.Tensor2D;
        const logits = tf.fused.matMul({ a: features, b: kernel as TF.Tensor2D, bias });
        return tf.losses.softmaxCrossEntropy(onehot, logits) as TF.Scalar;
      };
      return trainSession({
        ours: () => fitStep(model, x, y),
        peer: () => minimizeStep(peer, opt, loss, [kernel, bias]),
        weights: async () => [
          ['kernel', await head.kernel!.data(), await kernel.data()],
          ['bias', await head.bias!.data(), await bias.data()],
        ],
        adamLr: lr,
        dispose() {
          model.dispose();
          nets.peer.dispose();
          x.dispose();
          y.dispose();
          opt.dispose();
          for (const t of [kernel, bias, px, onehot]) t.dispose();
        },
      });
    },
  };
}

export const MODEL_CASES: SessionCase[] = [
  mobileNetInference(1),
  mobileNetInference(16),
  denseTrainStep(),
  flowersTrainStep(),
];
