import { readFile } from 'node:fs/promises';
import type * as TF from '@tensorflow/tfjs-core';
import type * as Ours from '../src/node.js';
import { seededUniform } from './harness.js';
import { type NamedWeight, peerMobileNetV2 } from './peer-mobilenet.js';

/**
 * Child process of the time-to-first-result measurement (bench/startup.ts bundles this file and
 * runs it with plain `node`, once per library and task). It times, from just before the library's
 * import: loading the library's modules, creating the GPU device, building the inputs (matmul) or
 * the model with its weights (MobileNetV2), and the first result read back to the CPU, which it
 * splits into shader module + pipeline creation (timed around the GPUDevice's methods) and the
 * rest (recording, execution, readback). A second, warm run of the same op is timed for comparison.
 * Prints one JSON line.
 */

export interface FirstResultArgs {
  lib: 'ours' | 'tfjs';
  /**
   * matmul, mobilenet (prediction): both libraries. Ours only: train (the first training step of a
   * whole-trainable MobileNetV2 + Dense head at batch 16, BatchNorm in training mode) and dense (the
   * lab's dense net, Flatten [size,size,3] -> Dense 500 -> 50 -> 5: building it, 55M weights
   * initialised, is the inputs phase; the first training step at batch 16 is the first result).
   */
  task: 'matmul' | 'mobilenet' | 'train' | 'dense';
  /** Our library, bundled (bench/startup.ts). */
  libPath: string;
  weightsPath: string;
  matmulSize: number;
  imageSize: number;
}

export interface FirstResult {
  /** Milliseconds per phase (see FIRST_PHASES). */
  ms: Record<string, number>;
  /** Pipelines created for the first result. */
  pipelines: number;
  /** Ours only: queueStats() after the first result (pipelines, compileMs), as a cross-check. */
  queueStats?: { pipelines: number; compileMs: number };
  /** Milliseconds from process start to the import (Node startup; not part of `total`). */
  nodeStartMs: number;
}

const args = JSON.parse(process.argv[2]) as FirstResultArgs;
const ms: Record<string, number> = {};
const compile = { ms: 0, pipelines: 0 };

async function timed<T>(phase: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    ms[phase] = (ms[phase] ?? 0) + performance.now() - t0;
  }
}

/** Times shader module and pipeline creation on this device (both libraries create them synchronously). */
function instrument(device: GPUDevice): void {
  const d = device as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['createShaderModule', 'createComputePipeline', 'createComputePipelineAsync']) {
    const orig = d[name].bind(device);
    d[name] = (...a: unknown[]) => {
      const t0 = performance.now();
      if (name !== 'createShaderModule') compile.pipelines++;
      const out = orig(...a);
      const done = () => {
        compile.ms += performance.now() - t0;
      };
      if (out instanceof Promise) out.then(done, done);
      else done();
      return out;
    };
  }
}

/** Times the first result (split into compile and the rest) and a second, warm one. */
async function firstAndSecond(run: () => Promise<unknown>): Promise<void> {
  const c0 = compile.ms;
  await timed('first', run);
  ms.compile = compile.ms - c0;
  ms.execute = ms.first - ms.compile;
  await timed('second', run);
}

async function readWeights(path: string): Promise<Map<string, NamedWeight>> {
  const buf = await readFile(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, NamedWeight>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (e.dtype !== 'F32') throw new Error(`first-result: ${name} is ${e.dtype}, expected F32`);
    const [a, b] = e.data_offsets;
    const bytes = buf.subarray(8 + n + a, 8 + n + b);
    out.set(name, {
      shape: e.shape,
      data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
    });
  }
  return out;
}

async function ours(): Promise<FirstResult['queueStats']> {
  const lib = await timed(
    'import',
    () =>
      import(args.libPath) as Promise<
        typeof Ours & { queueStats(): { pipelines: number; compileMs: number } }
      >,
  );
  instrument(await timed('device', () => lib.getDevice()));
  if (args.task === 'matmul') {
    const n = args.matmulSize;
    const [a, b] = await timed('inputs', async () => {
      const t = [lib.tensor(seededUniform(n * n, 1), [n, n]), lib.tensor(seededUniform(n * n, 2), [n, n])];
      await lib.sync();
      return t;
    });
    await firstAndSecond(async () => {
      const c = lib.matmul(a, b);
      await c.data();
      c.dispose();
    });
  } else if (args.task === 'mobilenet') {
    const s = args.imageSize;
    const [model, x] = await timed('inputs', async () => {
      const m = lib.mobileNetV2({ inputShape: [s, s, 3], includeTop: false });
      await lib.loadMobileNetV2Weights(m, { backbone: args.weightsPath });
      const t = lib.tensor(seededUniform(s * s * 3, 3), [1, s, s, 3]);
      await lib.sync();
      return [m, t] as const;
    });
    await firstAndSecond(async () => {
      const y = await model.predict(x);
      await y.data();
      y.dispose();
    });
  } else {
    const s = args.imageSize;
    const batch = 16;
    const [model, x, y] = await timed('inputs', async () => {
      let m: Ours.Sequential;
      if (args.task === 'train') {
        const base = lib.mobileNetV2({ inputShape: [s, s, 3], includeTop: false });
        await lib.loadMobileNetV2Weights(base, { backbone: args.weightsPath });
        m = new lib.Sequential({
          layers: [
            base,
            new lib.GlobalAveragePooling2D(),
            new lib.Dense({ units: 5, activation: 'softmax' }),
          ],
        });
      } else {
        m = new lib.Sequential({
          layers: [
            new lib.Flatten({ inputShape: [s, s, 3] }),
            new lib.Dense({ units: 500, activation: 'relu' }),
            new lib.Dense({ units: 50, activation: 'relu' }),
            new lib.Dense({ units: 5, activation: 'softmax' }),
          ],
        });
      }
      m.compile({ optimizer: new lib.SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
      const xt = lib.tensor(seededUniform(batch * s * s * 3, 3), [batch, s, s, 3]);
      const yt = lib.tensor(
        Array.from({ length: batch }, (_, i) => i % 5),
        [batch],
        'int32',
      );
      await lib.sync();
      return [m, xt, yt] as const;
    });
    await firstAndSecond(async () => {
      await model.fit(x, y, { epochs: 1, batchSize: batch, verbose: 0, shuffle: false });
      await lib.sync();
    });
  }
  const q = lib.queueStats();
  return { pipelines: q.pipelines, compileMs: q.compileMs };
}

async function tfjs(): Promise<void> {
  // TF.js's WebGPU backend registers itself at import only if navigator.gpu exists: create Dawn's
  // GPU object first (the device phase, as our getDevice() does it), then import the library.
  await timed('device', async () => {
    const mod = (await import('webgpu')) as { create: (o: string[]) => GPU; globals: object };
    Object.assign(globalThis, mod.globals);
    const gpu = mod.create([]);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  });
  const tf = await timed('import', async () => {
    const t = (await import('@tensorflow/tfjs-core')) as typeof TF;
    await import('@tensorflow/tfjs-backend-webgpu');
    return t;
  });
  await timed('device', async () => {
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    if (!(await tf.setBackend('webgpu')) || tf.getBackend() !== 'webgpu')
      throw new Error('no TF.js WebGPU backend');
    await tf.ready();
  });
  instrument((tf.backend() as unknown as { device: GPUDevice }).device);
  if (args.task === 'matmul') {
    const n = args.matmulSize;
    const [a, b] = await timed('inputs', async () => {
      const t = [tf.tensor2d(seededUniform(n * n, 1), [n, n]), tf.tensor2d(seededUniform(n * n, 2), [n, n])];
      // TF.js uploads lazily, on first use; reading a value back forces the upload.
      await Promise.all(t.map((x) => tf.slice(x, [0, 0], [1, 1]).data()));
      return t;
    });
    await firstAndSecond(async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    });
  } else {
    const s = args.imageSize;
    const [net, x] = await timed('inputs', async () => {
      const m = peerMobileNetV2(tf, await readWeights(args.weightsPath));
      const t = tf.tensor4d(seededUniform(s * s * 3, 3), [1, s, s, 3]);
      return [m, t] as const;
    });
    await firstAndSecond(async () => {
      const y = net.predict(x);
      await y.data();
      y.dispose();
    });
  }
}

const nodeStartMs = performance.now();
let queueStats: FirstResult['queueStats'];
if (args.lib === 'ours') queueStats = await ours();
else await tfjs();
ms.total = ['import', 'device', 'inputs', 'first'].reduce((t, k) => t + ms[k], 0);
const result: FirstResult = { ms, pipelines: compile.pipelines, queueStats, nodeStartMs };
console.log(JSON.stringify(result));
process.exit(0);
