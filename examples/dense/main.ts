/**
 * The lab's plain dense network (Flatten -> Dense(500, relu) -> Dense(50, relu) -> Dense(5, softmax))
 * trained with mini-batch SGD + momentum on a generated 5-class shapes image set.
 *
 *   npm run dense -- [--epochs 10] [--batch 64] [--lr 0.01] [--momentum 0.9] [--samples 3000] [--seed 1]
 */
import { parseArgs } from 'node:util';
import { Dense, Flatten, getDevice, mul, Sequential, SGD, setSeed, tensor } from '../../src/index.js';
import { makeShapes, SHAPE_CLASSES } from './shapes.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    batch: { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.01' },
    momentum: { type: 'string', default: '0.9' },
    samples: { type: 'string', default: '3000' },
    seed: { type: 'string', default: '1' },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);

await getDevice();
setSeed(num('seed'));
const size = 32;
const nTrain = num('samples');
const nTest = Math.round(nTrain / 5);
const train = makeShapes(nTrain, num('seed'), size);
const test = makeShapes(nTest, num('seed') + 1000, size);
const toX = (images: Float32Array, n: number) => {
  const raw = tensor(images, [n, size, size, 3]);
  const x = mul(raw, 1 / 255); // Rescaling(1/255)
  raw.dispose();
  return x;
};
const xTrain = toX(train.images, nTrain);
const yTrain = tensor(train.labels, [nTrain], 'int32');
const xTest = toX(test.images, nTest);
const yTest = tensor(test.labels, [nTest], 'int32');

const model = new Sequential([
  new Flatten({ inputShape: [size, size, 3] }),
  new Dense({ units: 500, activation: 'relu' }),
  new Dense({ units: 50, activation: 'relu' }),
  new Dense({ units: SHAPE_CLASSES.length, activation: 'softmax' }),
]);
model.compile({
  optimizer: new SGD({ learningRate: num('lr'), momentum: num('momentum') }),
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
});
model.summary();
const t0 = performance.now();
const history = await model.fit(xTrain, yTrain, {
  epochs: num('epochs'),
  batchSize: num('batch'),
  validationSplit: 0.1,
  seed: num('seed'),
});
const seconds = (performance.now() - t0) / 1000;
const result = await model.evaluate(xTest, yTest, { batchSize: num('batch') });
console.log(
  `test: loss ${result.loss.toFixed(4)} - accuracy ${result.accuracy.toFixed(4)} (${nTest} held-out images, classes ${SHAPE_CLASSES.join('/')})`,
);
console.log(`training: ${seconds.toFixed(1)} s for ${history.epoch.length} epochs`);
for (const t of [xTrain, yTrain, xTest, yTest]) t.dispose();
model.dispose();
