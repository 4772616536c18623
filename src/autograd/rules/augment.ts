import { affineResample, affineResampleGrad } from '../../kernels/augment.js';
import type { GradTable } from '../registry.js';

/**
 * The affine resample is linear in the image: its backward pass scatters along the taps the forward
 * pass read, and that scatter's own gradient is the resample again (without the constant fill,
 * which does not depend on the image). The transforms are random augmentation parameters, not
 * trained: no gradient flows to them.
 */
export const augmentGrads = {
  affineResample: (dy, r, need) => {
    const x = r.inputs[0];
    const { interpolation, fillMode } = r.attrs;
    return [
      need[0]
        ? affineResampleGrad(dy, r.inputs[1], [x.shape[1], x.shape[2]], { interpolation, fillMode })
        : null,
      null,
    ];
  },
  affineResampleGrad: (ddx, r, need) => {
    const { interpolation, fillMode, outputSize } = r.attrs;
    return [
      need[0]
        ? affineResample(ddx, r.inputs[1], { interpolation, fillMode, fillValue: 0, outputSize })
        : null,
      null,
    ];
  },
} satisfies Partial<GradTable>;
