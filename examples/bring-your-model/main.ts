/**
 * Bring your model: a Teachable-Machine-style TensorFlow.js LayersModel (a truncated MobileNet
 * feature extractor plus a small Dense head, in one Sequential, saved as model.json + shards), loaded
 * with `loadModel`, fine-tuned here on the flowers photos, and saved back as TF.js (for any
 * TensorFlow.js app) and as a Keras 3 `.keras` file.
 *
 *   npx tsx examples/bring-your-model/main.ts [--model path/to/model.json] [--data DIR] [--weights FILE]
 *                                             [--out DIR] [--size 96] [--batches 8] [--epochs 3]
 *
 * Without --model, it first writes such a model itself (what Teachable Machine's "Export > TensorFlow.js"
 * gives you): MobileNetV2 up to block_13 (ImageNet weights from --weights) + Dense(64) + Dense(classes).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Adam,
  type Batch,
  Dense,
  model as functionalModel,
  GlobalAveragePooling2D,
  getDevice,
  imageDatasetFromDirectory,
  loadMobileNetV2Weights,
  loadModel,
  Model,
  mobileNetV2,
  Sequential,
  setSeed,
  tidy,
} from '../../src/node.js';
import { defaultDataDir, defaultWeightsDir, repoRoot, requireFile } from '../flowers/paths.js';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string', default: defaultDataDir() },
    weights: {
      type: 'string',
      default: join(defaultWeightsDir(), 'mobilenet_v2_1.0_224_no_top.safetensors'),
    },
    out: { type: 'string', default: join(repoRoot, 'out', 'bring-your-model') },
    size: { type: 'string', default: '96' },
    batches: { type: 'string', default: '8' },
    epochs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '7' },
  },
});
const size = Number(opt.size);
requireFile(opt.data, 'the flowers photos folder', 'Pass --data DIR (one sub-folder per class).');
await getDevice();
setSeed(Number(opt.seed));
mkdirSync(opt.out, { recursive: true });

const [trainDs, valDs] = await imageDatasetFromDirectory(opt.data, {
  imageSize: [size, size],
  batchSize: 16,
  validationSplit: 0.2,
  subset: 'both',
  seed: Number(opt.seed),
});
const classNames = trainDs.classNames!;

/** What Teachable Machine exports: Sequential[truncated MobileNet, Sequential[Dense, Dense(softmax)]]. */
async function writeTeachableMachineStyleModel(dir: string): Promise<string> {
  requireFile(opt.weights, 'the MobileNetV2 weights', 'Pass --weights FILE, or --model to bring your own.');
  const full = mobileNetV2({ inputShape: [size, size, 3], includeTop: false });
  await loadMobileNetV2Weights(full, { backbone: opt.weights });
  const truncated = functionalModel({
    name: 'mobilenet_truncated',
    inputs: full.inputs,
    outputs: new GlobalAveragePooling2D({ name: 'features' }).apply(full.layerOutput('block_13_expand_relu')),
  });
  const head = new Sequential({
    name: 'head',
    layers: [
      new Dense({
        units: 64,
        activation: 'relu',
        inputShape: [truncated.outputShape[1] as number],
        name: 'dense_1',
      }),
      new Dense({ units: classNames.length, activation: 'softmax', name: 'dense_2' }),
    ],
  });
  const tm = new Sequential({ name: 'teachable_machine_style', layers: [truncated, head] });
  await tm.save(dir, { format: 'tfjs' });
  tm.dispose();
  return join(dir, 'model.json');
}

const source = opt.model ?? (await writeTeachableMachineStyleModel(join(opt.out, 'exported-tfjs')));
console.log(`loading ${source}`);
const model = await loadModel(source);
model.summary();

// Freeze the feature extractor (the first layer), train the head: Teachable Machine's recipe.
const [base] = model.layers;
if (base instanceof Model) base.trainable = false;
model.compile({
  optimizer: new Adam({ learningRate: 1e-3 }),
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
});

// MobileNet wants pixels in [-1, 1]; the datasets give [0, 255].
const preprocess = (b: Batch): Batch => {
  const xs = tidy(() => mobileNetV2.preprocessInput(b.xs));
  b.xs.dispose();
  return { xs, ys: b.ys };
};
const batches = Number(opt.batches);
const before = await model.evaluate(valDs.map(preprocess).take(batches));
await model.fit(trainDs.map(preprocess).take(batches), {
  epochs: Number(opt.epochs),
  stepsPerEpoch: batches,
});
const after = await model.evaluate(valDs.map(preprocess).take(batches));
console.log(
  `validation accuracy: ${before.accuracy.toFixed(3)} before, ${after.accuracy.toFixed(3)} after fine-tuning`,
);

await model.save(join(opt.out, 'fine-tuned-tfjs'), { format: 'tfjs' });
await model.save(join(opt.out, 'fine-tuned.keras'));
console.log(
  `saved ${join(opt.out, 'fine-tuned-tfjs', 'model.json')} (tf.loadLayersModel) and ${join(opt.out, 'fine-tuned.keras')} (keras.saving.load_model)`,
);
model.dispose();
