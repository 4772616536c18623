import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs-core';
import {
  drainPool,
  type Functional,
  loadMobileNetV2Weights,
  memory,
  mobileNetV2,
  readSafetensorsFile,
  resetPeakBytes,
  sync,
  type Tensor,
  tensor,
  tidy,
  toFloat32,
} from '../src/node.js';
import { setMaxPooledBytes } from '../src/tensor/pool.js';
import { maxAbsDiff, type Side, seededUniform } from './harness.js';
import { mobileNetV2Onnx } from './onnx-mobilenet.js';
import {
  describeSlices,
  forwardBatched,
  microBatches,
  type NamedWeight,
  type PeerMobileNet,
  peerMobileNetV2,
} from './peer-mobilenet.js';
import { type OrtPeer, ortPeers } from './peer-ort.js';
import type { Peer, Tf } from './peer-tfjs.js';

/**
 * Whole-model cases: MobileNetV2 inference (and, in train-cases.ts, training steps). Each builds a
 * model on our side and the same model, with the same weights, in TF.js; checks that both compute
 * the same thing; then times one forward pass or one training step per repetition. Rates are
 * images (samples) per second.
 */

export interface SessionCheck {
  ok: boolean;
  text: string;
}

/** A further peer of a session (ONNX Runtime), timed with the others and checked against ours. */
export interface OtherPeer {
  name: string;
  side: Side<unknown>;
  check(): Promise<SessionCheck>;
}

export interface Session {
  /** Runs before timing (and warms both sides up): compares the two sides. */
  check(): Promise<SessionCheck>;
  ours: Side<unknown>;
  peer: Side<unknown>;
  /** More peers (same input, same output), each checked against ours before timing. */
  others?: OtherPeer[];
  /** Untimed measurements after the timing (memory high-water marks), for the JSON and table. */
  extra?(): Promise<Record<string, number>>;
  dispose(): void;
}

export interface SessionCase {
  group: string;
  op: string;
  shape: string;
  unit: 'img/s' | 'tokens/s' | 'steps/s';
  /** Images (tokens) per repetition. */
  work: number;
  /** Untimed repetitions per side after the check (default: --warmup). */
  warmup?: number;
  /** Timed repetitions per side even past the time budget (default 3). */
  minReps?: number;
  /** Only run when a filter names its group (see run.ts): slow scaling series. */
  optIn?: boolean;
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

/**
 * Our MobileNetV2 (ImageNet weights) and the TF.js one, or a skip note. `trainable`: the TF.js
 * weights are variables, for the whole-network training step.
 */
export async function bothMobileNets(
  tf: Tf,
  size: number,
  trainable = false,
): Promise<{ ours: Functional; peer: PeerMobileNet } | { skip: string }> {
  const path = backbonePath();
  if (!existsSync(path)) return { skip: `no MobileNetV2 weights at ${path} (set WGSL_NN_WEIGHTS_DIR)` };
  const ours = mobileNetV2({ inputShape: [size, size, 3], includeTop: false });
  await loadMobileNetV2Weights(ours, { backbone: path });
  return { ours, peer: peerMobileNetV2(tf, await backboneWeights(path), { trainable }) };
}

/** Inputs shaped like preprocessed images, in [-1, 1]. */
export const images = (n: number, size: number, seed: number) => seededUniform(n * size * size * 3, seed);

/** How TF.js ran a batch in micro-batches (it binds whole tensors; see peer-mobilenet.ts). */
export const peerSplitNote = (slices: ReadonlyArray<[number, number]>) =>
  slices.length === 1 ? '' : `; TF.js as ${describeSlices(slices)}`;

/**
 * Forward-pass memory beyond the weights and input, from an untimed pass each. Ours: the buffer
 * pool is drained and left uncapped, so the bytes it allocates during the pass are the GPU memory
 * high-water mark (`highWater`, size-class rounded), and `memory().numBytes` at the end of the pass,
 * before the tidy frees the intermediates, is what was live then (`live`); `memory().peakBytes`
 * after `resetPeakBytes()` is the most tensor bytes live at once (`peak`). TF.js: `tf.profile`'s
 * peakBytes (live tensor bytes at the worst kernel) less the bytes live before the pass.
 */
async function forwardMemory(
  tf: Tf,
  ours: () => Tensor,
  peer: () => TF.Tensor,
): Promise<Record<string, number>> {
  await sync();
  drainPool();
  setMaxPooledBytes(Number.MAX_SAFE_INTEGER);
  const before = memory();
  resetPeakBytes();
  let live = 0;
  try {
    const y = tidy(() => {
      const out = ours();
      live = memory().numBytes - before.numBytes;
      return out;
    });
    await sync();
    const highWater = memory().allocatedBytes - before.allocatedBytes;
    const peak = memory().peakBytes - before.numBytes;
    y.dispose();
    const peerBefore = tf.memory().numBytes;
    const prof = await tf.profile(() => tf.tidy(peer));
    (prof.result as TF.Tensor).dispose();
    return {
      oursHighWaterBytes: highWater,
      oursPeakBytes: peak,
      oursLiveBytes: live,
      peerPeakBytes: prof.peakBytes - peerBefore,
    };
  } finally {
    setMaxPooledBytes(1 << 30); // the pool's default cap
    await sync();
    drainPool(); // back to an empty pool, as after the uncapped pass nothing else would shrink it
  }
}

function mobileNetInference(
  batch: number,
  opts: { group?: string; optIn?: boolean; memory?: boolean; size?: number } = {},
): SessionCase {
  const size = opts.size ?? 192;
  return {
    group: opts.group ?? 'mobilenet',
    op: 'MobileNetV2 inference',
    shape: `[${batch},${size},${size},3] -> out_relu`,
    unit: 'img/s',
    work: batch,
    warmup: batch >= 32 ? 0 : 1, // the check already ran each side once (pipelines compiled)
    minReps: batch > 64 ? 2 : undefined,
    optIn: opts.optIn,
    async setup(peer) {
      const { tf } = peer;
      const nets = await bothMobileNets(tf, size);
      if ('skip' in nets) return nets;
      const slices = microBatches(batch, size, peer.maxBindingBytes);
      const data = images(batch, size, 71 + batch);
      const x = tensor(data, [batch, size, size, 3]);
      const px = tf.tensor4d(data, [batch, size, size, 3]);
      const ours = () => tidy(() => nets.ours.apply(x, { training: false }));
      const theirs = () => tf.tidy(() => forwardBatched(tf, nets.peer, px, slices));
      const shape = [batch, size, size, 3];
      const others = (await ortSessions(size)).map(
        (p): OtherPeer => ({
          name: p.name,
          side: { run: () => p.run(data, shape), cleanup: () => {} },
          async check() {
            const y = ours();
            const a = await y.data();
            y.dispose();
            const d = maxAbsDiff(a, await p.run(data, shape));
            const ok = d <= 1e-3;
            return { ok, text: `${p.name} ${ok ? 'ok' : 'FAIL'} ${d.toExponential(1)}` };
          },
        }),
      );
      return {
        others,
        async check() {
          const y = ours();
          const a = await y.data();
          const shape = y.shape;
          y.dispose();
          const py = theirs();
          const b = await py.data();
          py.dispose();
          const d = maxAbsDiff(a, b);
          const ok = d <= 1e-3;
          const text = `out_relu [${shape}] ${ok ? 'ok' : 'FAIL'} ${d.toExponential(1)} (tol 1e-3)`;
          return { ok, text: text + peerSplitNote(slices) };
        },
        ours: { run: () => oursRun(ours), cleanup: dispose },
        peer: { run: () => peerRun(theirs, peer.sync), cleanup: dispose },
        extra: opts.memory ? () => forwardMemory(tf, ours, theirs) : undefined,
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

export const dispose = (t: unknown) => (t as { dispose(): void }).dispose();

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

let ort: Promise<OrtPeer[]> | undefined;
let ortSize = 0;
/** Whether the MobileNetV2 cases also time ONNX Runtime (run.ts sets it from --no-ort). */
export const ortOptions = { enabled: true, webgpu: true, notes: {} as Record<string, string> };

/** The ONNX Runtime peers for MobileNetV2 at `size` (built once per process: sessions are reused). */
async function ortSessions(size: number): Promise<OrtPeer[]> {
  if (!ortOptions.enabled) return [];
  if (ort && ortSize === size) return ort;
  const path = backbonePath();
  ortSize = size;
  ort = (async () => {
    const model = mobileNetV2Onnx(await backboneWeights(path), size);
    const { peers, skipped, versions } = await ortPeers(model, { webgpu: ortOptions.webgpu });
    Object.assign(ortOptions.notes, versions);
    for (const [name, reason] of Object.entries(skipped)) ortOptions.notes[`${name} skipped`] = reason;
    return peers;
  })();
  return ort;
}

/** Default run: batch 1, 16 and 64. */
export const INFERENCE_CASES: SessionCase[] = [1, 16, 64].map((b) => mobileNetInference(b));

/** `--filter scaling`: images/s and the memory high-water mark from batch 1 to 128. */
export const SCALING_INFERENCE_CASES: SessionCase[] = [1, 2, 4, 8, 16, 32, 64, 128].map((b) =>
  mobileNetInference(b, { group: 'scaling-mobilenet', optIn: true, memory: true }),
);
