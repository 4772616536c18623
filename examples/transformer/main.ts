/**
 * A small decoder-only transformer trained from scratch on a generated task with an exact answer:
 * multi-digit addition (default: two 5-digit numbers) or sequence reversal (see task.ts). Trained with
 * next-token cross-entropy on the answer tokens (teacher forcing), Adam with linear warmup and
 * cosine decay; scored by exact match of greedy generation on held-out prompts (never trained on).
 * Prints loss and exact match per epoch, saves the weights, generates answers for a few held-out
 * prompts, and ends with one JSON line: exact_match, seconds, tokens_per_s and more.
 *
 *   npm run transformer -- [--task add|reverse] [--digits 5] [--dim 64] [--heads 4] [--layers 2] [--batch 64]
 *     [--steps 3000] [--epoch-steps 250] [--lr 0.001] [--warmup 100] [--test 2000] [--seed 1]
 *     [--max-seconds 780] [--out out/transformer]
 */
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  Adam,
  argMax,
  getDevice,
  type LearningRateSchedule,
  mean,
  reshape,
  saveTensorsFile,
  setSeed,
  slice,
  sparseSoftmaxCrossEntropy,
  sync,
  type Tensor,
  tensor,
  tidy,
  variableGrads,
} from '../../src/node.js';
import { Gpt } from './model.js';
import { Task, type TaskName } from './task.js';

const { values } = parseArgs({
  options: {
    task: { type: 'string', default: 'add' },
    digits: { type: 'string', default: '5' },
    dim: { type: 'string', default: '64' },
    heads: { type: 'string', default: '4' },
    layers: { type: 'string', default: '2' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '3000' },
    'epoch-steps': { type: 'string', default: '250' },
    lr: { type: 'string', default: '0.001' },
    warmup: { type: 'string', default: '100' },
    test: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    'max-seconds': { type: 'string', default: '780' },
    out: { type: 'string', default: 'out/transformer' },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);

const t0 = performance.now();
const seconds = () => (performance.now() - t0) / 1000;
await getDevice();
setSeed(num('seed'));
if (values.task !== 'add' && values.task !== 'reverse') {
  throw new Error(`--task must be add or reverse, got ${values.task}`);
}
const task = new Task(values.task as TaskName, num('digits'), num('seed'));
const P = task.promptLength;
const A = task.answerLength;
const T = task.inputLength; // the model reads prompt + answer minus its last token
const V = task.vocab;
const batch = num('batch');
const steps = num('steps');
const epochSteps = num('epoch-steps');
const maxSeconds = num('max-seconds');
// Held out: a validation set (early stopping) and a test set (the reported score); training
// batches never contain a prompt of either.
const valid = task.heldOut(500);
const test = task.heldOut(num('test'));

const model = new Gpt({
  vocab: V,
  seqLen: T,
  dim: num('dim'),
  heads: num('heads'),
  layers: num('layers'),
  seed: num('seed'),
});

// Linear warmup to the peak rate, then cosine decay to 10% of it at `steps`.
const peak = num('lr');
const warmup = num('warmup');
const schedule: LearningRateSchedule = (step) => {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, steps - warmup));
  return peak * (0.1 + 0.45 * (1 + Math.cos(Math.PI * p)));
};
schedule.config = { name: 'WarmupCosine', peak, warmup, steps };
const optimizer = new Adam({ learningRate: schedule });

/** Mean cross-entropy of the answer tokens: logits at positions P-1..P+A-2 predict answer 0..A-1. */
function loss(ids: Tensor, answers: Tensor): Tensor {
  const logits = model.apply(ids, true);
  const ans = reshape(slice(logits, [0, P - 1, 0], [ids.shape[0], A, V]), [-1, V]);
  return mean(sparseSoftmaxCrossEntropy(answers, ans));
}

/**
 * Greedy generation of the answers of `prompts` (P tokens each): A forward passes
 * over fixed-length [n, T] inputs (the causal mask makes the not-yet-generated positions irrelevant).
 */
async function generate(prompts: Int32Array[], chunk = 500): Promise<Int32Array[]> {
  const out: Int32Array[] = [];
  for (let s = 0; s < prompts.length; s += chunk) {
    const part = prompts.slice(s, s + chunk);
    const n = part.length;
    const buf = new Int32Array(n * T);
    for (const [i, p] of part.entries()) buf.set(p, i * T);
    for (let t = 0; t < A; t++) {
      const next = tidy(() => {
        const logits = model.apply(tensor(buf, [n, T], 'int32'));
        return argMax(reshape(slice(logits, [0, P - 1 + t, 0], [n, 1, V]), [n, V]), 1);
      });
      const d = await next.data();
      next.dispose();
      // The token predicted at position P-1+t is the model's input at position P+t.
      for (let i = 0; i < n; i++) {
        if (P + t < T) buf[i * T + P + t] = d[i];
        out[s + i] ??= new Int32Array(A);
        out[s + i][t] = d[i];
      }
    }
  }
  return out;
}

async function exactMatch(set: { prompts: Int32Array[]; answers: Int32Array[] }) {
  const g0 = performance.now();
  const got = await generate(set.prompts);
  const sec = (performance.now() - g0) / 1000;
  let ok = 0;
  got.forEach((g, i) => {
    if (g.every((v, j) => v === set.answers[i][j])) ok++;
  });
  return { exact: ok / got.length, genTokensPerS: (got.length * A) / sec, got };
}

tidy(() => model.apply(tensor(new Int32Array(T), [1, T], 'int32')));
console.log(
  `${task.description}: ${model.countParams()} parameters (dim ${num('dim')}, ${num('heads')} heads, ${num('layers')} layers), batch ${batch}, up to ${steps} steps`,
);
let step = 0;
let trainSeconds = 0;
let trainTokens = 0;
let lastValid = 0;
while (step < steps && seconds() < maxSeconds) {
  const e0 = performance.now();
  let lossSum = 0;
  let lossN = 0;
  const end = Math.min(steps, step + epochSteps);
  let pending: Tensor[] = [];
  for (; step < end && seconds() < maxSeconds; step++) {
    const b = task.batch(batch);
    const value = tidy(() => {
      const ids = tensor(b.inputs, [batch, T], 'int32');
      const answers = tensor(b.answers, [batch * A], 'int32');
      const { value, grads } = variableGrads(() => loss(ids, answers), model.trainableWeights);
      optimizer.applyGradients(grads);
      return value;
    });
    pending.push(value);
    trainTokens += batch * T;
    // Read losses back in groups, so that the GPU queue is never drained every step.
    if (pending.length === 25) {
      for (const v of pending) {
        lossSum += (await v.data())[0];
        v.dispose();
        lossN++;
      }
      pending = [];
    }
  }
  for (const v of pending) {
    lossSum += (await v.data())[0];
    v.dispose();
    lossN++;
  }
  await sync();
  trainSeconds += (performance.now() - e0) / 1000;
  const v = await exactMatch(valid);
  lastValid = v.exact;
  console.log(
    `step ${String(step).padStart(5)}  loss ${(lossSum / Math.max(1, lossN)).toFixed(4)}  valid exact match ${(100 * v.exact).toFixed(1)}%  lr ${schedule(step).toExponential(2)}  ${Math.round(trainTokens / trainSeconds)} train tokens/s  ${seconds().toFixed(0)} s`,
  );
  if (v.exact >= 0.999) break;
}

const result = await exactMatch(test);
const outDir = values.out as string;
await mkdir(outDir, { recursive: true });
const weights = new Map(model.trainableWeights.map((w) => [w.name!, w as Tensor]));
await saveTensorsFile(`${outDir}/model.safetensors`, weights, {
  task: task.name,
  digits: String(task.digits),
});
console.log(`saved ${weights.size} weights to ${outDir}/model.safetensors`);
for (let i = 0; i < 5; i++) {
  const p = Task.text(test.prompts[i].slice(0, P));
  const g = task.answerText(result.got[i]);
  const want = task.answerText(test.answers[i]);
  console.log(`  ${p} -> ${g}${g === want ? '' : `  (expected ${want})`}`);
}
console.log(
  `held-out exact match ${(100 * result.exact).toFixed(2)}% on ${test.prompts.length} prompts; ${step} steps in ${trainSeconds.toFixed(0)} s of training; generation ${Math.round(result.genTokensPerS)} tokens/s`,
);
const params = model.countParams();
model.dispose();
optimizer.dispose();
console.log(
  JSON.stringify({
    task: task.description,
    exact_match: result.exact,
    valid_exact_match: lastValid,
    seconds: Number(seconds().toFixed(1)),
    train_seconds: Number(trainSeconds.toFixed(1)),
    steps: step,
    tokens_per_s: Math.round(trainTokens / trainSeconds),
    generation_tokens_per_s: Math.round(result.genTokensPerS),
    params,
  }),
);
