import { type GradTable, registerGradientTable } from '../registry.js';
import { activationExtGrads } from './activations-ext.js';
import { attentionGrads } from './attention.js';
import { augmentGrads } from './augment.js';
import { batchNormGrads } from './batchnorm.js';
import { binaryGrads } from './binary.js';
import { convGrads } from './conv.js';
import { crossEntropyGrads } from './crossentropy.js';
import { layerNormGrads } from './layernorm.js';
import { matmulGrads } from './matmul.js';
import { movementGrads } from './movement.js';
import { poolGrads } from './pool.js';
import { reduceGrads } from './reduce.js';
import { unaryGrads } from './unary.js';

/**
 * The gradient table of every op in the op table (src/tensor/op-table.ts): a rule, or 'nondiff'.
 * Typed `GradTable`, so an op without an entry here does not compile. Each family's rules live in
 * the file named after its kernels (src/kernels/X.ts -> ./X.ts; the groups are in CONTRIBUTING.md).
 */
export const gradTable: GradTable = {
  ...binaryGrads,
  ...unaryGrads,
  ...matmulGrads,
  ...convGrads,
  ...poolGrads,
  ...batchNormGrads,
  ...reduceGrads,
  ...movementGrads,
  ...crossEntropyGrads,
  ...activationExtGrads,
  ...layerNormGrads,
  ...attentionGrads,
  ...augmentGrads,
  // Image resizing runs in the data pipeline, before any weight: nothing to differentiate.
  resizeBilinear: 'nondiff',
};

registerGradientTable(gradTable);
