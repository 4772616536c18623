// Prints the adapter Dawn sees, or explains how to get one. Used by scripts/setup-vulkan.sh.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('setup-vulkan: Dawn found no WebGPU adapter. Install a Vulkan driver (Mesa lavapipe >= 24).');
  process.exit(1);
}
const info = adapter.info ?? {};
console.log(
  `setup-vulkan: Dawn adapter: ${info.vendor ?? '?'} / ${info.architecture ?? '?'} / ${info.device ?? '?'} / ${info.description ?? '?'}`,
);
console.log(
  `setup-vulkan: maxStorageBufferBindingSize=${adapter.limits.maxStorageBufferBindingSize} maxComputeInvocationsPerWorkgroup=${adapter.limits.maxComputeInvocationsPerWorkgroup} features=${[...adapter.features].join(',')}`,
);
globalThis.__gpu = gpu;
process.exit(0);
