import { availableParallelism } from 'node:os';
import type * as OrtWeb from 'onnxruntime-web';

/**
 * ONNX Runtime as bench peers, on the same ONNX MobileNetV2 (bench/onnx-mobilenet.ts):
 * - `ort-wasm`: onnxruntime-web's wasm execution provider, threads = cores;
 * - `ort-webgpu`: onnxruntime-web's WebGPU execution provider on `navigator.gpu` (the bench's shared
 *   GPU object, so the same Dawn adapter as ours);
 * - `ort-node-cpu`: onnxruntime-node's CPU execution provider (native), threads = cores.
 * A peer that cannot be loaded is skipped with its reason. Install pitfall: onnxruntime-node's
 * install script downloads extra binaries (CUDA) from a host this machine cannot reach; npm 11 does
 * not run install scripts by default, and `ONNXRUNTIME_NODE_INSTALL=skip` skips it explicitly: its
 * CPU binaries ship inside the package.
 */

export type OrtPeerName = 'ort-wasm' | 'ort-webgpu' | 'ort-node-cpu';

export interface OrtPeer {
  name: OrtPeerName;
  /** Runs the model on an NHWC batch; resolves with out_relu. */
  run(x: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

interface OrtSessionLike {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dispose?: () => void }>>;
  release(): Promise<void>;
}
interface OrtLike {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  InferenceSession: { create(model: Uint8Array, opts: object): Promise<OrtSessionLike> };
}

function wrap(name: OrtPeerName, ort: OrtLike, s: OrtSessionLike): OrtPeer {
  return {
    name,
    async run(x, shape) {
      const out = await s.run({ input: new ort.Tensor('float32', x, shape) });
      const y = out.out_relu;
      const data = y.data as Float32Array;
      y.dispose?.();
      return data;
    },
    release: () => s.release(),
  };
}

/**
 * Dawn (Node) rejects `writeBuffer` from a view of a SharedArrayBuffer, and onnxruntime-web's wasm
 * heap is shared memory (its threaded build): copy such views first. Only views of shared memory
 * are affected, which our library never passes.
 */
let patched = false;
function allowSharedWrites(): void {
  if (patched) return;
  patched = true;
  const proto = (globalThis as { GPUQueue?: { prototype: GPUQueue } }).GPUQueue?.prototype;
  if (!proto) return;
  const write = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, buffer, offset, data, dataOffset?, size?) {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const bytes = new Uint8Array(data.byteLength);
      bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      const el = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      return write.call(
        this,
        buffer,
        offset,
        bytes,
        (dataOffset ?? 0) * el,
        size === undefined ? undefined : size * el,
      );
    }
    return write.call(this, buffer, offset, data as GPUAllowSharedBufferSource, dataOffset, size);
  } as GPUQueue['writeBuffer'];
}

/** Loads every peer it can; `skipped` says why the others are missing. */
export async function ortPeers(
  model: Uint8Array,
  opts: { webgpu?: boolean } = {},
): Promise<{ peers: OrtPeer[]; skipped: Record<string, string>; versions: Record<string, string> }> {
  const threads = availableParallelism();
  const peers: OrtPeer[] = [];
  const skipped: Record<string, string> = {};
  const versions: Record<string, string> = {};
  const why = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];
  try {
    const ort = (await import('onnxruntime-web')) as unknown as typeof OrtWeb & OrtLike;
    ort.env.wasm.numThreads = threads;
    versions['onnxruntime-web'] = ort.env.versions.web ?? '?';
    const s = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
    peers.push(wrap('ort-wasm', ort, s));
  } catch (e) {
    skipped['ort-wasm'] = why(e);
  }
  if (opts.webgpu !== false) {
    try {
      // The WebGPU build (a separate module instance with its own wasm).
      const ort = (await import(/* @vite-ignore */ 'onnxruntime-web/webgpu')) as unknown as typeof OrtWeb &
        OrtLike;
      if (!(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu) throw new Error('no navigator.gpu');
      allowSharedWrites();
      ort.env.wasm.numThreads = 1;
      const s = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
      peers.push(wrap('ort-webgpu', ort, s));
    } catch (e) {
      skipped['ort-webgpu'] = why(e);
    }
  }
  try {
    const ort = (await import('onnxruntime-node')) as unknown as OrtLike & {
      env: { versions: { node?: string } };
    };
    versions['onnxruntime-node'] = ort.env.versions.node ?? '?';
    const s = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
    });
    peers.push(wrap('ort-node-cpu', ort, s));
  } catch (e) {
    skipped['ort-node-cpu'] = why(e);
  }
  return { peers, skipped, versions };
}
