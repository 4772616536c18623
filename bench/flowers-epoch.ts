/**
 * Where one epoch of `npm run flowers` (no feature cache) goes, part by part (issue 20 part 7):
 *
 *   npx tsx bench/flowers-epoch.ts decode   the training set's decode + resize + upload alone (no model)
 *   npx tsx bench/flowers-epoch.ts steps    on one preloaded batch of 64: base forward (predict-like),
 *                                           a full training step, and a profile() of one step
 *   npx tsx bench/flowers-epoch.ts epoch    one epoch of model.fit with validation, and how long fit waited
 *                                           for batches in each part
 *
 * Options: --data DIR --weights FILE --steps N (steps mode repeats, default 5) --prefetch N --workers N
 * --epochs N (epoch mode: N epochs in one fit, each timed; the first compiles the pipelines).
 * The peer: `python bench/keras-pipeline/lab_epoch.py` (the Keras lab on TensorFlow's CPU runtime).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDataDir, defaultWeightsDir } from '../examples/flowers/paths.js';
import {
  Adam,
  autotune,
  type Batch,
  closeDefaultDecodePool,
  DecodePool,
  Dense,
  Flatten,
  getDevice,
  imageDatasetFromDirectory,
  loadMobileNetV2Weights,
  memory,
  mobileNetV2,
  profile,
  Sequential,
  setAutotune,
  setSeed,
  sync,
  tidy,
} from '../src/node.js';
import { queueStats } from '../src/tensor/queue.js';
import { threadCpu } from './thread-cpu.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: defaultDataDir() },
    weights: {
      type: 'string',
      default: join(defaultWeightsDir(), 'mobilenet_v2_1.0_224_no_top.safetensors'),
    },
    steps: { type: 'string', default: '5' },
    prefetch: { type: 'string' },
    workers: { type: 'string' },
    autotune: { type: 'boolean', default: false },
    epochs: { type: 'string', default: '1' },
  },
});
const mode = positionals[0] ?? 'epoch';
const size = 192;
const batchSize = 64;
await getDevice();
setSeed(123);
const pool = opt.workers !== undefined ? new DecodePool({ size: Number(opt.workers) }) : undefined;
const [trainDs, valDs] = await imageDatasetFromDirectory(opt.data, {
  imageSize: [size, size],
  batchSize,
  validationSplit: 0.19,
  subset: 'both',
  seed: 123,
  verbose: false,
  ...(pool ? { workers: pool } : {}),
  ...(opt.prefetch !== undefined ? { prefetch: Number(opt.prefetch) } : {}),
});
const preprocess = (b: Batch): Batch => ({ xs: tidy(() => mobileNetV2.preprocessInput(b.xs)), ys: b.ys });
const now = () => performance.now();
/** CPU seconds of this process (all threads: main, decode workers, lavapipe's), to compare runs on a loaded machine. */
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const s = (ms: number) => (ms / 1000).toFixed(2);

if (mode === 'decode') {
  const t0 = now();
  const c0 = cpu();
  let n = 0;
  for await (const b of trainDs) {
    n += b.xs.shape[0];
    b.xs.dispose();
    b.ys.dispose();
  }
  await sync();
  const ms = now() - t0;
  console.log(
    `decode+resize+upload: ${n} images in ${s(ms)} s (cpu ${s(cpu() - c0)} s) = ${(n / (ms / 1000)).toFixed(1)} img/s`,
  );
} else {
  const base = mobileNetV2({ inputShape: [size, size, 3], includeTop: false });
  await loadMobileNetV2Weights(base, { backbone: opt.weights });
  base.trainable = false;
  const model = new Sequential({
    name: 'flowers',
    layers: [base, new Flatten({ name: 'flatten' }), new Dense({ units: 5, activation: 'softmax' })],
  });
  model.compile({
    optimizer: new Adam({ learningRate: 0.001 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  if (mode === 'steps') {
    const first = (await trainDs.map(preprocess).take(1).toArray())[0];
    const reps = Number(opt.steps);
    if (opt.autotune) {
      // Time the kernel candidates at this network's shape classes (not saved to the user's cache).
      const ta = now();
      setAutotune(true);
      tidy(() => base.apply(first.xs, { training: false }));
      setAutotune(false);
      await sync();
      const res = await autotune({ save: false });
      console.log(`autotune: ${res.length} shape classes in ${s(now() - ta)} s`);
      for (const r of res) console.log(`  ${r.key}: ${JSON.stringify(r.winner)}`);
    }
    const time = async (name: string, f: () => Promise<unknown>) => {
      await f(); // warm-up (pipelines compiled)
      const ts: number[] = [];
      const c0 = cpu();
      for (let i = 0; i < reps; i++) {
        const t = now();
        await f();
        ts.push(now() - t);
      }
      const c = (cpu() - c0) / reps;
      ts.sort((a, b) => a - b);
      console.log(
        `${name}: median ${s(ts[ts.length >> 1])} s (min ${s(ts[0])}, max ${s(ts[ts.length - 1])}), cpu ${s(c)} s`,
      );
    };
    await time('base forward (training: false) + readback', async () => {
      const y = tidy(() => base.apply(first.xs, { training: false }) as never);
      await (y as { data(): Promise<unknown> }).data();
      (y as { dispose(): void }).dispose();
    });
    await time('model.predictOnBatch', async () => {
      const y = model.predictOnBatch(first.xs);
      await (y as { data(): Promise<unknown> }).data();
      (y as { dispose(): void }).dispose();
    });
    await time('trainOnBatch (full step)', () => model.trainOnBatch(first.xs, first.ys));
    const before = memory().numTensors;
    const p = await profile(() => model.trainOnBatch(first.xs, first.ys));
    console.log(
      `profiled step: wall ${s(p.wallMs)} s, kernels ${s(p.kernelMs)} s, ${p.dispatches} dispatches, peak ${(p.peakBytes / 2 ** 20).toFixed(0)} MiB, tensors +${memory().numTensors - before}`,
    );
    // The kernels by part of the step, by kernel name: the base's 1x1 convolutions (batch norm,
    // ReLU6 and residual add fused in), its depthwise convolutions (alone or fused with the 1x1 before
    // or after), the stem, the batch-norm folds, and everything else (Flatten + Dense, softmax, loss,
    // gradients, Adam). `LIST_KERNELS=1` lists every kernel.
    const partByPrefix: [string, string][] = [
      ['matmul_ws', 'base: 1x1 convs'],
      ['conv2d_pointwise', 'base: 1x1 convs'],
      ['depthwise', 'base: depthwise convs'],
      ['expand_dw', 'base: 1x1 + depthwise fused'],
      ['dw_project', 'base: 1x1 + depthwise fused'],
      ['conv2d_window', 'base: stem 3x3 conv'],
      ['fold_bn', 'base: batch-norm folds'],
    ];
    const part = (k: string) =>
      partByPrefix.find(([prefix]) => k.startsWith(prefix))?.[1] ?? 'head, loss, gradients, optimizer';
    if (process.env.LIST_KERNELS)
      for (const k of p.kernels)
        console.log(`    ${k.calls}x ${k.ms.toFixed(1)} ms ${k.kernel.slice(0, 100)}`);
    const parts = new Map<string, { calls: number; ms: number }>();
    for (const k of p.kernels) {
      const e = parts.get(part(k.kernel)) ?? { calls: 0, ms: 0 };
      e.calls += k.calls;
      e.ms += k.ms;
      parts.set(part(k.kernel), e);
    }
    for (const [name, e] of parts)
      console.log(
        `  ${name}: ${e.calls} dispatches, ${e.ms.toFixed(0)} ms (${((100 * e.ms) / p.kernelMs).toFixed(1)}%)`,
      );
    first.xs.dispose();
    first.ys.dispose();
  } else {
    // model.fit itself, its two sources wrapped to time how long each batch kept fit waiting.
    const waits = { training: 0, validation: 0 };
    const timed = <T>(src: AsyncIterable<T>, part: keyof typeof waits) => ({
      async *[Symbol.asyncIterator]() {
        const it = src[Symbol.asyncIterator]();
        try {
          for (;;) {
            const t = now();
            const r = await it.next();
            waits[part] += now() - t;
            if (r.done) return;
            yield r.value;
          }
        } finally {
          await it.return?.();
        }
      },
    });
    let tEnd = 0;
    let cEnd = 0;
    let t0 = 0;
    let c0 = 0;
    let q0 = queueStats();
    const valSrc = timed(valDs.map(preprocess), 'validation');
    const trainSrc = {
      async *[Symbol.asyncIterator]() {
        yield* timed(trainDs.map(preprocess), 'training');
        tEnd = now(); // the last training batch is done: validation starts
        cEnd = cpu();
      },
    };
    const perEpoch = {
      onEpochBegin: () => {
        waits.training = 0;
        waits.validation = 0;
        q0 = queueStats();
        t0 = now();
        c0 = cpu();
      },
      onEpochEnd: (epoch: number) => {
        const total = now() - t0;
        const tTrain = tEnd - t0;
        const q1 = queueStats();
        console.log(
          `epoch ${epoch + 1} (fit): total ${s(total)} s, cpu ${s(cpu() - c0)} s | training ${s(tTrain)} s (waiting for data ${s(waits.training)} s, cpu ${s(cEnd - c0)} s) | validation ${s(total - tTrain)} s (waiting for data ${s(waits.validation)} s, cpu ${s(cpu() - cEnd)} s)` +
            ` | ${q1.pipelines - q0.pipelines} pipelines compiled in ${s(q1.compileMs - q0.compileMs)} s`,
        );
      },
    };
    await model.fit(trainSrc, {
      epochs: Number(opt.epochs),
      validationData: valSrc,
      verbose: 0,
      callbacks: [perEpoch],
    });
    console.log(
      'cpu by thread:',
      [...threadCpu()]
        .filter(([, v]) => v >= 0.1)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(', '),
    );
  }
}
await pool?.close();
await closeDefaultDecodePool();
