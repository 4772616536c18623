/**
 * The lab's first model: a plain dense network on the flower photos themselves,
 * Rescaling(1/255) -> Flatten -> Dense(500, relu) -> Dense(50, relu) -> Dense(5, softmax), trained with
 * mini-batch SGD + momentum on the same split as `npm run flowers` (192x192, validation 19%, seed 123).
 * Its validation accuracy, beside the transfer-learning result, is the lab's lesson.
 *
 *   npm run dense -- [--data DIR] [--epochs 10] [--batch 64] [--lr 0.001] [--momentum 0.9] [--seed 123]
 *   npm run dense -- --shapes [--samples 3000] [--lr 0.01]   (the generated 32x32 shapes set instead of the photos)
 */
import { parseArgs } from 'node:util';
import {
  closeDefaultDecodePool,
  Dense,
  Flatten,
  getDevice,
  imageDatasetFromDirectory,
  Rescaling,
  Sequential,
  SGD,
  setSeed,
  tensor,
} from '../../src/node.js';
import { defaultDataDir, requireFile } from '../flowers/paths.js';
import { makeShapes, SHAPE_CLASSES } from './shapes.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: defaultDataDir() },
    epochs: { type: 'string', default: '10' },
    batch: { type: 'string', default: '64' },
    lr: { type: 'string' },
    momentum: { type: 'string', default: '0.9' },
    seed: { type: 'string', default: '123' },
    'image-size': { type: 'string', default: '192' },
    'validation-split': { type: 'string', default: '0.19' },
    shapes: { type: 'boolean', default: false },
    samples: { type: 'string', default: '3000' },
  },
});
const num = (k: 'epochs' | 'batch' | 'momentum' | 'seed' | 'image-size' | 'validation-split' | 'samples') =>
  Number(values[k]);
// 0.01 with momentum 0.9 blows up the 110,592-input first layer on the photos (its ReLUs die in the first
// epoch); the 32x32 shapes (3,072 inputs) train well at 0.01.
const lr = values.lr !== undefined ? Number(values.lr) : values.shapes ? 0.01 : 0.001;
const epochs = num('epochs');
const batchSize = num('batch');
const seed = num('seed');

await getDevice();
setSeed(seed);

/** The lab's dense network for `size`x`size` RGB images in 0..255 and `classes` classes. */
function denseNet(size: number, classes: number): Sequential {
  return new Sequential({
    name: 'dense_lab',
    layers: [
      new Rescaling({ scale: 1 / 255, inputShape: [size, size, 3] }),
      new Flatten(),
      new Dense({ units: 500, activation: 'relu' }),
      new Dense({ units: 50, activation: 'relu' }),
      new Dense({ units: classes, activation: 'softmax' }),
    ],
  });
}

const compile = (m: Sequential) =>
  m.compile({
    optimizer: new SGD({ learningRate: lr, momentum: num('momentum') }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });

const t0 = performance.now();
if (values.shapes) {
  // The generated set: 32x32 circles, squares, triangles... (no download, seconds per epoch).
  const size = 32;
  const nTrain = num('samples');
  const nTest = Math.round(nTrain / 5);
  const train = makeShapes(nTrain, seed, size);
  const test = makeShapes(nTest, seed + 1000, size);
  const xTrain = tensor(train.images, [nTrain, size, size, 3]);
  const yTrain = tensor(train.labels, [nTrain], 'int32');
  const xTest = tensor(test.images, [nTest, size, size, 3]);
  const yTest = tensor(test.labels, [nTest], 'int32');
  const model = denseNet(size, SHAPE_CLASSES.length);
  compile(model);
  model.summary();
  await model.fit(xTrain, yTrain, { epochs, batchSize, validationSplit: 0.1, seed });
  const result = await model.evaluate(xTest, yTest, { batchSize });
  console.log(
    `test: loss ${result.loss.toFixed(4)} - accuracy ${result.accuracy.toFixed(4)} (${nTest} held-out images, classes ${SHAPE_CLASSES.join('/')})`,
  );
  for (const t of [xTrain, yTrain, xTest, yTest]) t.dispose();
  model.dispose();
} else {
  requireFile(
    values.data,
    'the flowers photos folder',
    'Pass --data DIR (one sub-folder per class) or set WGSL_NN_DATA_DIR.',
  );
  const size = num('image-size');
  const [trainDs, valDs] = await imageDatasetFromDirectory(values.data, {
    imageSize: [size, size],
    batchSize,
    validationSplit: num('validation-split'),
    subset: 'both',
    seed,
  });
  // Decoded once, then served from memory: the dense net is fast, decoding would dominate.
  const train = trainDs.cache();
  const val = valDs.cache();
  const model = denseNet(size, trainDs.classNames!.length);
  compile(model);
  model.summary();
  const h = await model.fit(train, {
    epochs,
    validationData: val,
    stepsPerEpoch: Math.ceil(trainDs.filePaths.length / batchSize),
  });
  const acc = h.history.val_accuracy;
  console.log(
    `dense net on the photos: val_accuracy ${acc[acc.length - 1].toFixed(4)} (best ${Math.max(...acc).toFixed(4)}) on ${valDs.filePaths.length} validation photos`,
  );
  train.clearCache();
  val.clearCache();
  model.dispose();
}
console.log(`time: ${((performance.now() - t0) / 1000).toFixed(1)} s for ${epochs} epochs`);
await closeDefaultDecodePool();
