import { activationGrad } from '../../kernels/activations-ext.js';
import type { GradTable } from '../registry.js';

/** The activations of src/kernels/activations-ext.ts: one fused pass dy * f'(x). */
export const activationExtGrads = {
  activation: (dy, r) => [activationGrad(dy, r.inputs[0], r.attrs.kind)],
  // Second derivatives of these activations are not provided.
  activationGrad: 'nondiff',
} satisfies Partial<GradTable>;
