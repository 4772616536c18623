// The Node entry point: everything in the browser-safe core plus file-system and worker-thread helpers.

export {
  type ImageBatch,
  ImageDataset,
  type ImageDatasetOptions,
  imageDatasetFromDirectory,
  type LabelMode,
} from './data/from-directory.js';
export { closeDefaultDecodePool, DecodePool, defaultDecodePool } from './data/worker-pool.js';
export * from './index.js';
export { loadTensorsFile, readSafetensorsFile, saveTensorsFile, writeFileAtomic } from './io/weights-file.js';
