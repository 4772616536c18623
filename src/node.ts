// The Node entry point: everything in the browser-safe core plus file-system and worker-thread helpers.

export {
  type ImageBatch,
  ImageDataset,
  type ImageDatasetOptions,
  imageDatasetFromDirectory,
  type LabelMode,
  type UnlabeledImageBatch,
} from './data/from-directory.js';
export {
  closeDefaultDecodePool,
  type DecodeJob,
  DecodePool,
  type DecodePoolOptions,
  defaultDecodePool,
} from './data/worker-pool.js';
export * from './index.js';
export {
  type AtomicWriteOptions,
  loadTensorsFile,
  type ReadOptions,
  readSafetensorsFile,
  saveTensorsFile,
  writeFileAtomic,
} from './io/weights-file.js';
