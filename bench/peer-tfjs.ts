import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs-core';
import { deviceInfo } from '../src/index.js';
import { setLavapipeThreadsDefault } from '../src/tensor/device.js';
import { inDeviceBundle } from './harness.js';

/**
 * TensorFlow.js (tfjs-backend-webgpu) as the peer, in this process, on the same Dawn GPU object
 * as our library. Our device.ts takes `navigator.gpu` when it exists, so `installSharedGpu()`
 * (called before `getDevice()`) creates the one GPU object and publishes it there; both libraries
 * then ask it for the same (high-performance) adapter, each for its own device.
 */

export type Tf = typeof TF;
export type TfTensor = TF.Tensor;

// Referenced for the whole process: if Dawn's GPU object is garbage-collected, Node crashes.
let sharedGpu: GPU | undefined;

/** Creates the process's GPU object and sets `globalThis.navigator.gpu`. Call before getDevice(). */
export async function installSharedGpu(): Promise<GPU> {
  if (sharedGpu) return sharedGpu;
  let deviceExists = true;
  try {
    deviceInfo();
  } catch {
    deviceExists = false;
  }
  if (deviceExists) {
    throw new Error(
      'bench: installSharedGpu() must run before getDevice(), or the two libraries get two GPUs',
    );
  }
  // Dawn reads this when the Vulkan instance is created, i.e. in create() below.
  await setLavapipeThreadsDefault();
  const mod = (await import('webgpu')) as { create: (opts: string[]) => GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  sharedGpu = gpu;
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  if ((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu !== gpu) {
    throw new Error('bench: could not set globalThis.navigator.gpu');
  }
  return gpu;
}

/** The internals of WebGPUBackend we need to wait for its GPU work (not in its public types). */
interface WebGpuBackendInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export interface Peer {
  tf: Tf;
  /** Flushes TF.js's recorded commands and awaits GPU completion (the same as our `sync()`). */
  sync(): Promise<void>;
  /** TF.js's device (for its adapter info). */
  device: GPUDevice;
  /** The largest buffer TF.js can bind (it binds whole tensors, so also its largest tensor). */
  maxBindingBytes: number;
}

/**
 * tfjs-core's Node entry (dist/tf-core.node.js) ships no gradient functions: the union package
 * `@tensorflow/tfjs` registers them from `@tensorflow/tfjs-core/dist/register_all_gradients`, an
 * ES module whose extensionless relative imports Node cannot load. So we bundle that module with
 * esbuild (installed with tsx, which runs the bench) and import the bundle; its registrations land
 * in TF.js's global gradient registry, which the engine of tf-core.node.js reads.
 */
async function registerGradients(tf: Tf): Promise<void> {
  if (tf.getGradient('RealDiv')) return;
  // In the device bundle (scripts/device-bundle.mjs) the bench is itself an esbuild bundle, which
  // holds the gradient module already (this import is bundled), and esbuild is not there to run.
  if (inDeviceBundle()) {
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  } else await bundleGradients();
  if (!tf.getGradient('RealDiv') || !tf.getGradient('BatchMatMul')) {
    throw new Error('bench: could not register the TF.js gradient functions (training cases need them)');
  }
}

/** Bundles tfjs-core's gradient registrations with esbuild and imports the bundle. */
async function bundleGradients(): Promise<void> {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: {
      contents: "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';",
      resolveDir: dirname(fileURLToPath(import.meta.url)),
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
}

/** Loads TF.js, selects the WebGPU backend on the shared GPU, and fails unless it is active. */
export async function setupPeer(): Promise<Peer> {
  if (!sharedGpu) throw new Error('bench: call installSharedGpu() before setupPeer()');
  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  await registerGradients(tf);
  // The backend registers itself at import time only if navigator.gpu exists, hence the order.
  await import('@tensorflow/tfjs-backend-webgpu');
  // Never let TF.js run an op on the CPU (it does so for small CPU-resident inputs by default).
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'webgpu') {
    throw new Error(
      `bench: TensorFlow.js did not start its WebGPU backend (active backend: ${tf.getBackend()}); refusing to time another backend`,
    );
  }
  const be = tf.backend() as unknown as WebGpuBackendInternals;
  const sync = async () => {
    if (be.commandEncoder) {
      be.endComputePassEncoder();
      be.submitQueue();
    }
    await be.device.queue.onSubmittedWorkDone();
  };
  return { tf, sync, device: be.device, maxBindingBytes: be.device.limits.maxStorageBufferBindingSize };
}

function describe(device: GPUDevice): string {
  const i = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return i ? `${i.vendor}|${i.architecture}|${i.device}|${i.description}` : 'unknown adapter';
}

/**
 * Fails unless both libraries run on the shared GPU object and on the same adapter. Returns the
 * adapter's description.
 */
export function assertSameAdapter(ours: GPUDevice, peer: Peer): string {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!sharedGpu || nav?.gpu !== sharedGpu)
    throw new Error('bench: navigator.gpu is not the shared GPU object');
  const a = describe(ours);
  const b = describe(peer.device);
  if (a !== b) throw new Error(`bench: the libraries use different adapters: ours ${a}, TF.js ${b}`);
  return a;
}

/** Live TF.js tensor count (to check that the bench does not leak). */
export function peerTensors(peer: Peer): number {
  return peer.tf.memory().numTensors;
}

/**
 * Runs `fn` inside validation and out-of-memory error scopes on each device and throws if any
 * error was raised: neither library fails an op whose shader could not bind its buffers (the
 * output is garbage), so the bench's output checks run under these scopes.
 */
export async function captureGpuErrors<T>(devices: readonly GPUDevice[], fn: () => Promise<T>): Promise<T> {
  for (const d of devices) {
    d.pushErrorScope('validation');
    d.pushErrorScope('out-of-memory');
  }
  let result: T | undefined;
  let failure: unknown;
  try {
    result = await fn();
  } catch (e) {
    failure = e;
  }
  const errors: string[] = [];
  for (const [i, d] of devices.entries()) {
    for (let k = 0; k < 2; k++) {
      const e = await d.popErrorScope();
      if (e) errors.push(`device ${i}: ${e.message.split('\n')[0]}`);
    }
  }
  if (failure !== undefined) throw failure;
  if (errors.length > 0)
    throw new Error(`bench: WebGPU errors during the output check: ${errors.join('; ')}`);
  return result as T;
}
