/**
 * The kernel declaration helper lives in src/tensor/program.ts (below the kernels, so that
 * src/tensor's own fill and random kernels use it too); kernel files import it from here.
 */
export {
  type BindingSpec,
  type Builtin,
  type Constants,
  defineKernel,
  type Kernel,
  type KernelDecl,
  type KernelRun,
  type UniformType,
} from '../tensor/program.js';
