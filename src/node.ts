// The Node entry point: everything in the browser-safe core plus file-system and worker-thread helpers.

import { fileTuneStore } from './io/tune-store.js';
import { setTuneStore } from './kernels/autotune.js';

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
  type DecodeRunOptions,
  defaultDecodePool,
} from './data/worker-pool.js';
export * from './index.js';
export { tuneCacheDir } from './io/tune-store.js';
export {
  type AtomicWriteOptions,
  loadTensorsFile,
  type ReadOptions,
  readSafetensorsFile,
  saveTensorsFile,
  writeFileAtomic,
} from './io/weights-file.js';

// Autotune winners persist in a file per adapter under the user's cache folder.
setTuneStore(fileTuneStore);
