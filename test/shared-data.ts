import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The read-only shared data beside the repository (`../shared`), or the env overrides. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const weightsDir =
  process.env.WGSL_NN_WEIGHTS_DIR ?? join(root, '..', 'shared', 'weights', 'mobilenet_v2');
export const flowersDir = process.env.WGSL_NN_DATA_DIR ?? join(root, '..', 'shared', 'data', 'flower_photos');
export const hasWeights = existsSync(join(weightsDir, 'mobilenet_v2_1.0_224_no_top.safetensors'));
export const hasFlowers = existsSync(flowersDir);
if (!hasWeights)
  console.warn(`MobileNetV2 tests skipped: no weights at ${weightsDir} (set WGSL_NN_WEIGHTS_DIR)`);
