/** The fill kernel lives in src/tensor (creation.ts uses it); kernel files import it from here. */
export { fillKernel } from '../tensor/fill-kernel.js';
