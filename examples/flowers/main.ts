/**
 * The Keras transfer-learning lab in TypeScript: frozen ImageNet MobileNetV2 + Flatten + Dense(5, softmax)
 * on the 5-class flowers photos, 192x192, batch 64, 10 epochs.
 *
 *   npm run flowers -- [--data DIR] [--weights FILE] [--out DIR] [--epochs 10] [--batch 64]
 *                      [--optimizer adam|sgd] [--lr 0.001] [--momentum 0.9] [--cache-features]
 *                      [--fine-tune] [--fine-tune-epochs 5] [--seed 123]
 *                      [--augment] [--early-stopping] [--patience 2]
 *   npm run flowers -- --best --out DIR     (augmentation + fine-tuning the top blocks: see best.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Adam,
  type Batch,
  BatchNormalization,
  closeDefaultDecodePool,
  Dense,
  Dropout,
  EarlyStopping,
  Flatten,
  GlobalAveragePooling2D,
  getDevice,
  imageDatasetFromDirectory,
  type Layer,
  loadMobileNetV2Weights,
  mobileNetV2,
  type Optimizer,
  RandomFlip,
  RandomRotation,
  RandomZoom,
  Sequential,
  SGD,
  setSeed,
  type Tensor,
  tidy,
} from '../../src/node.js';
import { BEST, trainBest } from './best.js';
import { cachedFeatures, featureBatches } from './features.js';
import { defaultDataDir, defaultWeightsDir, repoRoot, requireFile } from './paths.js';
import { plotPredictionGrid, plotTrainingCurves } from './plots.js';

const { values: opt } = parseArgs({
  options: {
    data: { type: 'string', default: defaultDataDir() },
    weights: {
      type: 'string',
      default: join(defaultWeightsDir(), 'mobilenet_v2_1.0_224_no_top.safetensors'),
    },
    out: { type: 'string', default: join(repoRoot, 'out', 'flowers') },
    epochs: { type: 'string', default: '10' },
    batch: { type: 'string', default: '64' },
    'image-size': { type: 'string', default: '192' },
    'validation-split': { type: 'string', default: '0.19' },
    optimizer: { type: 'string', default: 'adam' },
    lr: { type: 'string' },
    momentum: { type: 'string', default: '0.9' },
    seed: { type: 'string', default: '123' },
    'cache-features': { type: 'boolean', default: false },
    'fine-tune': { type: 'boolean', default: false },
    'fine-tune-at': { type: 'string', default: 'block_13_expand' },
    'fine-tune-epochs': { type: 'string', default: '5' },
    augment: { type: 'boolean', default: false },
    'early-stopping': { type: 'boolean', default: false },
    patience: { type: 'string', default: '2' },
    best: { type: 'boolean', default: false },
    copies: { type: 'string', default: String(BEST.copies) },
  },
});
if (opt.best && (opt['cache-features'] || opt.augment || opt['fine-tune'])) {
  console.error(
    'error: --best is a recipe of its own; leave out --cache-features, --augment and --fine-tune',
  );
  process.exit(2);
}
if (opt['cache-features'] && opt.augment) {
  console.error("error: --augment changes every epoch's images, so the features cannot be cached");
  process.exit(2);
}
const epochs = opt.best ? BEST.headEpochs + BEST.fineTuneEpochs : Number(opt.epochs);
const batchSize = Number(opt.batch);
const size = Number(opt['image-size']);
const seed = Number(opt.seed);
requireFile(
  opt.data,
  'the flowers photos folder',
  'Pass --data DIR (one sub-folder per class) or set WGSL_NN_DATA_DIR.',
);
requireFile(opt.weights, 'the MobileNetV2 weights', 'Pass --weights FILE or set WGSL_NN_WEIGHTS_DIR.');
if (opt.optimizer !== 'adam' && opt.optimizer !== 'sgd') {
  console.error(`error: --optimizer must be adam or sgd, got ${opt.optimizer}`);
  process.exit(2);
}

await getDevice();
setSeed(seed);
mkdirSync(opt.out, { recursive: true });

const [trainDs, valDs] = await imageDatasetFromDirectory(opt.data, {
  imageSize: [size, size],
  batchSize,
  validationSplit: Number(opt['validation-split']),
  subset: 'both',
  seed,
});
const classNames = trainDs.classNames!;

// MobileNetV2 wants inputs in [-1, 1]; the datasets yield pixels in [0, 255]. `map` disposes the
// input tensors the result does not hold (the old xs), as tf.data does.
const preprocess = (b: Batch): Batch => ({ xs: tidy(() => mobileNetV2.preprocessInput(b.xs)), ys: b.ys });
const train = trainDs.map(preprocess);
const val = valDs.map(preprocess);

const base = mobileNetV2({ inputShape: [size, size, 3], includeTop: false });
await loadMobileNetV2Weights(base, { backbone: opt.weights });
base.trainable = false;
const head = new Dense({ units: classNames.length, activation: 'softmax', name: 'dense' });
// The lab flattens the base's 6x6x1280 output; --best pools it instead (1280 features, dropout 0.2):
// far fewer weights in the head, which overfit the 2,640 photos with Flatten (measured: see README).
const neck: Layer[] = opt.best
  ? [new GlobalAveragePooling2D({ name: 'pool' }), new Dropout({ rate: 0.2, name: 'dropout' })]
  : [new Flatten({ name: 'flatten' })];
// --augment: flip, rotation and zoom inside the model, active in training only (one affine resample).
const augmentation: Layer[] = opt.augment
  ? [
      new RandomFlip({ mode: 'horizontal', seed, inputShape: [size, size, 3] }),
      new RandomRotation({ factor: 0.1, seed: seed + 1 }),
      new RandomZoom({ heightFactor: 0.1, seed: seed + 2 }),
    ]
  : [];
const model = new Sequential({
  name: 'flowers',
  layers: [...augmentation, base, ...neck, head],
});
const callbacks = opt['early-stopping']
  ? [new EarlyStopping({ monitor: 'val_loss', patience: Number(opt.patience), restoreBestWeights: true })]
  : [];

const makeOptimizer = (lr?: number): Optimizer =>
  opt.optimizer === 'sgd'
    ? new SGD({ learningRate: lr ?? Number(opt.lr ?? 0.01), momentum: Number(opt.momentum) })
    : new Adam({ learningRate: lr ?? Number(opt.lr ?? 0.001) });
model.compile({ optimizer: makeOptimizer(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
model.summary();

const t0 = performance.now();
let history: Record<string, number[]>;
if (opt.best) {
  history = await trainBest(base, neck, head, train, val, {
    ...BEST,
    copies: Number(opt.copies),
    batchSize,
    seed,
  });
} else if (opt['cache-features']) {
  // Frozen base: compute its features once per image, then train only Flatten + Dense on them.
  const tf = performance.now();
  const trainF = await cachedFeatures(base, train, 'training');
  const valF = await cachedFeatures(base, val, 'validation');
  console.log(`features cached in ${((performance.now() - tf) / 1000).toFixed(1)} s`);
  const headModel = new Sequential({
    name: 'flowers_head',
    layers: [new Flatten({ inputShape: base.outputShape.slice(1) as number[] }), head],
  });
  headModel.compile({
    optimizer: model.optimizer!,
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const h = await headModel.fit(featureBatches(trainF, batchSize, seed, true), {
    epochs,
    validationData: featureBatches(valF, batchSize, seed, false),
    stepsPerEpoch: Math.ceil(trainF.count / batchSize),
    callbacks,
  });
  history = h.history;
} else {
  const h = await model.fit(train, {
    epochs,
    validationData: val,
    stepsPerEpoch: Math.ceil(trainDs.filePaths.length / batchSize),
    callbacks,
  });
  history = h.history;
}
const seconds = (performance.now() - t0) / 1000;
const epochsRun = history.loss?.length ?? epochs;
console.log(`training: ${seconds.toFixed(1)} s, ${(seconds / epochsRun).toFixed(1)} s/epoch`);

if (opt['fine-tune']) {
  // Unfreeze the top of the base; BatchNormalization layers stay frozen (inference mode).
  const at = base.layers.findIndex((l) => l.name === opt['fine-tune-at']);
  if (at < 0) throw new Error(`--fine-tune-at: no layer named ${opt['fine-tune-at']}`);
  base.trainable = true;
  base.layers.forEach((l, i) => {
    l.trainable = i >= at && !(l instanceof BatchNormalization);
  });
  model.compile({
    optimizer: makeOptimizer(1e-5),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  console.log(`fine-tuning from ${opt['fine-tune-at']}: ${model.trainableWeights.length} trainable weights`);
  const h = await model.fit(train, {
    epochs: epochs + Number(opt['fine-tune-epochs']),
    initialEpoch: epochs,
    validationData: val,
  });
  for (const [k, v] of Object.entries(h.history)) history[k] = [...(history[k] ?? []), ...v];
}

await model.saveWeights(join(opt.out, 'model.safetensors'));
writeFileSync(
  join(opt.out, 'flowers.json'),
  `${JSON.stringify({ classNames, imageSize: [size, size], preprocessing: 'mobilenet_v2' }, null, 1)}\n`,
);
// The held-out photos, for `npm run predict -- --model DIR --files DIR/validation_files.txt`.
writeFileSync(join(opt.out, 'validation_files.txt'), `${valDs.filePaths.join('\n')}\n`);
writeFileSync(
  join(opt.out, 'history.json'),
  `${JSON.stringify({ history, seconds, secondsPerEpoch: seconds / epochsRun }, null, 1)}\n`,
);
await plotTrainingCurves(history, join(opt.out, 'training_curves.png'));

// 3x3 grid of validation images with predicted and true class.
const first = await valDs.take(1).toArray();
const b = first[0];
const probs = await tidy(() => model.apply(mobileNetV2.preprocessInput(b.xs), { training: false })).data();
const pixels = await b.xs.data();
const ys = await b.ys.data();
const px = size * size * 3;
const items = Array.from({ length: Math.min(9, b.xs.shape[0]) }, (_, i) => {
  const p = Array.from(probs.subarray(i * classNames.length, (i + 1) * classNames.length));
  const k = p.indexOf(Math.max(...p));
  return {
    pixels: (pixels as Float32Array).subarray(i * px, (i + 1) * px),
    height: size,
    width: size,
    predicted: classNames[k],
    actual: classNames[ys[i]],
    probability: p[k],
  };
});
await plotPredictionGrid(items, join(opt.out, 'predictions.png'));
for (const t of [b.xs, b.ys] as Tensor[]) t.dispose();
const last = (k: string) => history[k]?.[history[k].length - 1];
console.log(
  `final: val_accuracy ${last('val_accuracy')?.toFixed(4)} - val_loss ${last('val_loss')?.toFixed(4)}`,
);
console.log(
  `wrote ${opt.out}/{model.safetensors,model.json,flowers.json,history.json,validation_files.txt,training_curves.png,predictions.png}`,
);
await closeDefaultDecodePool();
