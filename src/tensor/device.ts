import { ArgumentError, DeviceError } from './errors.js';

/**
 * One shared GPUDevice for the process. In a browser it comes from `navigator.gpu`; in Node from
 * the `webgpu` package (Dawn), loaded lazily so the browser bundle never sees it.
 */

/*
 * The WebGPU types the shipped declarations name, declared as empty global interfaces. They merge
 * with the full ones wherever those exist (TypeScript 7's lib.dom, or @webgpu/types added by the
 * user) and stand alone where they do not (TypeScript 5 without @webgpu/types). The declarations
 * used to reference @webgpu/types, whose globals collide with TypeScript 7's lib.dom (182 errors
 * under skipLibCheck: false). test/package.test.ts type-checks a consumer with TypeScript 5 and 7.
 */
declare global {
  interface GPUDevice {}
  interface GPUBuffer {}
  interface GPUError {}
  interface GPUQuerySet {}
  interface GPUComputePipeline {}
}

/** What `deviceInfo()` reports about the adapter in use. */
export interface DeviceInfo {
  /** The adapter's description (on lavapipe `llvmpipe (LLVM ...)`). */
  description: string;
  /** The vendor, as the adapter reports it. */
  vendor: string;
  /** The architecture, as the adapter reports it. */
  architecture: string;
  /** The device limits that matter to the kernels (WebGPU names). */
  limits: {
    /** The largest storage buffer one kernel can bind (bytes; bigger tensors are processed in chunks). */
    maxStorageBufferBindingSize: number;
    /** The largest buffer (bytes). */
    maxBufferSize: number;
    /** Threads per workgroup. */
    maxComputeInvocationsPerWorkgroup: number;
    /** Workgroup width. */
    maxComputeWorkgroupSizeX: number;
    /** Workgroups per dispatch dimension. */
    maxComputeWorkgroupsPerDimension: number;
    /** Shared memory per workgroup (bytes). */
    maxComputeWorkgroupStorageSize: number;
    /** Storage buffers one kernel can bind. */
    maxStorageBuffersPerShaderStage: number;
    /** Alignment of buffer offsets in bindings (bytes). */
    minStorageBufferOffsetAlignment: number;
  };
  /** The optional WebGPU features the device was created with (`shader-f16`, `subgroups`...). */
  features: string[];
}

const INSTALL_HINT =
  'No WebGPU adapter was found. In Node, Dawn needs a Vulkan driver: `npx wgsl-nn doctor` shows ' +
  'what is missing, and on Debian/Ubuntu `npx wgsl-nn install-driver` installs Mesa lavapipe >= 24 ' +
  '(a software Vulkan driver; from bookworm-backports on Debian 12); or install your GPU vendor ' +
  'driver plus libvulkan1. In a browser, enable WebGPU (Chrome: --enable-unsafe-webgpu).';

// Keep the GPU object referenced for the life of the process: if Dawn's GPU is garbage-collected
// while a device is alive, Node crashes.
let gpu: GPU | undefined;
let device: GPUDevice | undefined;
let info: DeviceInfo | undefined;
let pending: Promise<GPUDevice> | undefined;
let lostReason: string | undefined;
let generation = 0;
const lostListeners = new Set<(reason: string) => void>();
// GPU errors caught by error scopes arrive asynchronously (popErrorScope is a promise): they are
// kept here and thrown by the next sync() or readback, so a failed allocation or a rejected batch
// is reported instead of leaving garbage in tensors.
const pendingScopes = new Set<Promise<void>>();
let faults: string[] = [];

/**
 * lavapipe splits each dispatch over LP_NUM_THREADS threads; it must be set before the Vulkan
 * instance exists. Four times the core count measured fastest on 2-core machines (8 threads vs 4:
 * matmul 1024^3 +9-22%, MobileNetV2 batch 16 +10%, with less CPU time; 16 threads no better
 * overall). Node only; keeps a value the user set. Exported for code that creates Dawn's GPU
 * object itself (the bench).
 */
export async function setLavapipeThreadsDefault(): Promise<void> {
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  if (!proc) return;
  const os = await import('node:os');
  proc.env.LP_NUM_THREADS ??= String(Math.max(4, 4 * os.availableParallelism()));
}

async function getGpu(): Promise<GPU> {
  if (gpu) return gpu;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    gpu = nav.gpu;
    return gpu;
  }
  const proc = (
    globalThis as { process?: { env: Record<string, string | undefined>; versions?: { node?: string } } }
  ).process;
  if (!proc?.versions?.node) throw new DeviceError(INSTALL_HINT);
  await setLavapipeThreadsDefault();
  const pkg = 'webgpu';
  let mod: { create: (opts: string[]) => GPU; globals: object };
  try {
    mod = (await import(/* @vite-ignore */ pkg)) as typeof mod;
  } catch (e) {
    throw new DeviceError(
      `Could not load the 'webgpu' package (Dawn for Node): ${(e as Error).message}. Run npm ci.`,
    );
  }
  Object.assign(globalThis, mod.globals);
  gpu = mod.create([]);
  return gpu;
}

const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[];

async function createDevice(): Promise<GPUDevice> {
  const g = await getGpu();
  const adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new DeviceError(INSTALL_HINT);
  const al = adapter.limits;
  // Ask for the adapter's maximum compute limits: defaults are lower (e.g. 256 invocations).
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxBufferSize: al.maxBufferSize,
    maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: al.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupSizeZ: al.maxComputeWorkgroupSizeZ,
    maxComputeWorkgroupsPerDimension: al.maxComputeWorkgroupsPerDimension,
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
    maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
  };
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  let dev: GPUDevice;
  try {
    dev = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new DeviceError(`requestDevice failed: ${(e as Error).message}`);
  }
  const ai = adapter.info;
  info = {
    description: ai?.description ?? '',
    vendor: ai?.vendor ?? '',
    architecture: ai?.architecture ?? '',
    limits: {
      maxStorageBufferBindingSize: dev.limits.maxStorageBufferBindingSize,
      maxBufferSize: dev.limits.maxBufferSize,
      maxComputeInvocationsPerWorkgroup: dev.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: dev.limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: dev.limits.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupStorageSize: dev.limits.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: dev.limits.maxStorageBuffersPerShaderStage,
      minStorageBufferOffsetAlignment: dev.limits.minStorageBufferOffsetAlignment,
    },
    features: [...dev.features],
  };
  dev.lost.then((li) => {
    if (device !== dev) return;
    lostReason = `${li.reason}: ${li.message}`;
    device = undefined;
    info = undefined;
    faults = [];
    pendingScopes.clear();
    for (const l of lostListeners) l(lostReason);
  });
  // Errors not caught by an error scope: surface each distinct one once instead of losing them
  // (an invalid pipeline repeats the same error on every later use).
  const seen = new Set<string>();
  dev.onuncapturederror = (ev) => {
    const first = ev.error.message.split('\n')[0];
    if (seen.has(first) || seen.size > 20) return;
    seen.add(first);
    console.error(`wgsl-nn: uncaptured WebGPU error: ${ev.error.message}`);
  };
  return dev;
}

/**
 * Returns the shared device, creating it on first call. After a device loss, the next call creates
 * a fresh device. Call it (and await it) once before using any op.
 */
export async function getDevice(): Promise<GPUDevice> {
  if (device) return device;
  if (!pending) {
    pending = createDevice().then(
      (d) => {
        device = d;
        generation++;
        lostReason = undefined;
        pending = undefined;
        return d;
      },
      (e) => {
        pending = undefined;
        throw e;
      },
    );
  }
  return pending;
}

/** Counts devices created: tensors remember the generation their buffer belongs to. */
export function deviceGeneration(): number {
  return generation;
}

/** The device for synchronous op dispatch; throws when `getDevice()` has not completed. */
export function currentDevice(): GPUDevice {
  if (device) return device;
  if (lostReason !== undefined) {
    throw new DeviceError(
      `The GPU device was lost (${lostReason}); tensors on it are gone. Call await getDevice() to create a new device.`,
    );
  }
  throw new DeviceError(
    'No GPU device yet: call `await getDevice()` once before creating tensors or running ops.',
  );
}

/** The adapter's description, limits and features (after `await getDevice()`; throws before). */
export function deviceInfo(): DeviceInfo {
  currentDevice();
  return info!;
}

/** Registers a callback run when the device is lost (used to reset pools and caches). */
export function onDeviceLost(fn: (reason: string) => void): () => void {
  if (typeof fn !== 'function')
    throw new ArgumentError(`onDeviceLost: fn must be a function, got ${typeof fn}`);
  lostListeners.add(fn);
  return () => lostListeners.delete(fn);
}

/**
 * @internal Watches an error scope just popped: a GPU error it reports becomes a fault with the
 * message `describe` makes (undefined: ignore it), thrown by the next `throwFaults()`.
 */
export function watchErrorScope(
  popped: Promise<GPUError | null>,
  describe: (error: GPUError) => string | undefined,
): void {
  const dev = device;
  const done: Promise<void> = popped
    .then(
      (error) => {
        if (!error || device !== dev) return;
        const msg = describe(error);
        if (msg !== undefined) faults.push(msg);
      },
      () => {}, // the device was lost: reported by currentDevice()
    )
    .finally(() => pendingScopes.delete(done));
  pendingScopes.add(done);
}

/**
 * @internal Waits for the error scopes still open and throws the first fault recorded since the
 * last call as a DeviceError (faults are reported once).
 */
export async function throwFaults(): Promise<void> {
  while (pendingScopes.size > 0) await Promise.all(pendingScopes);
  if (faults.length === 0) return;
  const [first, ...rest] = faults;
  faults = [];
  throw new DeviceError(rest.length > 0 ? `${first} (then ${rest.length} more GPU error(s))` : first);
}

/** Destroys the device (tests of device loss, clean shutdown). The next getDevice() makes a new one. */
export function destroyDevice(): void {
  device?.destroy();
}
