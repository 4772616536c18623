import { type GradTable, registerGradientTable } from '../registry.js';
import { activationExtGrads } from './activations-ext.js';
import { attentionGrads } from './attention.js';
import { binaryGrads } from './binary.js';
import { convGrads } from './conv.js';
import { crossEntropyGrads } from './crossentropy.js';
import { layerNormGrads } from './layernorm.js';
import { matmulGrads } from './matmul.js';
import { movementGrads } from './movement.js';
import { normPoolGrads } from './norm-pool.js';
import { reduceGrads } from './reduce.js';
import { unaryGrads } from './unary.js';

/**
 * The gradient table of every op in the op table (src/tensor/op-table.ts): a rule, or 'nondiff'.
 * Typed `GradTable`, so an op without an entry here does not compile. Each family's rules live in
 * the file of the same name as its kernels (src/kernels/X.ts -> ./X.ts).
 */
export const gradTable: GradTable = {
  ...binaryGrads,
  ...unaryGrads,
  ...matmulGrads,
  ...convGrads,
  ...normPoolGrads,
  ...reduceGrads,
  ...movementGrads,
  ...crossEntropyGrads,
  ...activationExtGrads,
  ...layerNormGrads,
  ...attentionGrads,
  // Image resizing runs in the data pipeline, before any weight: nothing to differentiate.
  resizeBilinear: 'nondiff',
};

registerGradientTable(gradTable);
