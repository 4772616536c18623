import { currentDevice, deviceInfo, onDeviceLost } from './device.js';

/**
 * Facts about the current device that kernels choose by: the adapter's class, its subgroup sizes
 * and features. Read once per device from what the adapter reports (never assumed); kernels ask
 * here (and src/kernels/tuning.ts for the switches) instead of probing the adapter themselves.
 */

/** software: a CPU implementation (lavapipe, SwiftShader); the others as WebGPU reports them. */
export type AdapterClass = 'software' | 'integrated' | 'discrete' | 'unknown';

export interface DeviceFacts {
  adapterClass: AdapterClass;
  /** Mesa's lavapipe (llvmpipe), the software adapter most CPU-only kernels were measured on. */
  lavapipe: boolean;
  /** The subgroup size range the adapter reports (0 when it has no 'subgroups' feature). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  /** One fixed subgroup size of 4, 8 or 16 lanes that the tiled kernels are written for, else 0. */
  fixedSubgroupLanes: number;
  hasSubgroups: boolean;
  hasF16: boolean;
  hasTimestamps: boolean;
}

let facts: DeviceFacts | undefined;
onDeviceLost(() => {
  facts = undefined;
});

function classify(architecture: string, description: string, type: string | undefined): AdapterClass {
  if (/software|llvmpipe|lavapipe|swiftshader/i.test(`${architecture} ${description} ${type ?? ''}`))
    return 'software';
  if (type === 'discrete GPU' || type === 'discrete') return 'discrete';
  if (type === 'integrated GPU' || type === 'integrated') return 'integrated';
  return 'unknown';
}

/** The facts of the current device (computed once per device). */
export function deviceFacts(): DeviceFacts {
  if (facts) return facts;
  const dev = currentDevice();
  const info = deviceInfo();
  const ai = (
    dev as unknown as {
      adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number; type?: string };
    }
  ).adapterInfo;
  const hasSubgroups = dev.features.has('subgroups');
  const lo = hasSubgroups ? (ai?.subgroupMinSize ?? 0) : 0;
  const hi = hasSubgroups ? (ai?.subgroupMaxSize ?? 0) : 0;
  facts = {
    adapterClass: classify(info.architecture, info.description, ai?.type),
    lavapipe: /llvmpipe|lavapipe/i.test(`${info.architecture} ${info.description}`),
    subgroupMinSize: lo,
    subgroupMaxSize: hi,
    fixedSubgroupLanes: lo === hi && (lo === 4 || lo === 8 || lo === 16) ? lo : 0,
    hasSubgroups,
    hasF16: dev.features.has('shader-f16'),
    hasTimestamps: dev.features.has('timestamp-query'),
  };
  return facts;
}
