import {
  Adam,
  type Batch,
  BatchNormalization,
  cosineDecay,
  type Dense,
  type Functional,
  type Layer,
  RandomFlip,
  RandomRotation,
  RandomZoom,
  Sequential,
  tidy,
} from '../../src/node.js';
import { cachedFeatures, type FeatureSet, featureBatches } from './features.js';
import { splitAt } from './split.js';

/** Settings of the best recipe (`npm run flowers -- --best`). */
export interface BestOptions {
  /** The layer whose output is the cut: everything above it is fine-tuned. */
  cut: string;
  /** Augmented copies of the training set (copy 0 is the photos as they are). */
  copies: number;
  /** Epochs of the head alone, then of the head and the top blocks. */
  headEpochs: number;
  fineTuneEpochs: number;
  /** Learning rates of the two stages (the second decays to 0 along a cosine). */
  headLr: number;
  fineTuneLr: number;
  batchSize: number;
  seed: number;
}

/** The default recipe: measured on the flowers split (see the README). */
export const BEST: Omit<BestOptions, 'batchSize' | 'seed'> = {
  cut: 'block_12_add',
  copies: 4,
  headEpochs: 2,
  fineTuneEpochs: 3,
  headLr: 1e-3,
  fineTuneLr: 5e-5,
};

function concatFeatures(sets: FeatureSet[]): FeatureSet {
  const per = sets[0].featureShape.reduce((a, d) => a * d, 1);
  const count = sets.reduce((a, s) => a + s.count, 0);
  const data = new Float32Array(count * per);
  const labels = new Int32Array(count);
  let n = 0;
  for (const s of sets) {
    data.set(s.data, n * per);
    labels.set(s.labels, n);
    n += s.count;
  }
  return { data, labels, count, featureShape: sets[0].featureShape };
}

/**
 * The best recipe found for the lab: augmentation (flip, rotation, zoom in one affine resample),
 * then fine-tuning of MobileNetV2's top blocks at a lower rate along a cosine schedule. The frozen
 * bottom of the network (blocks 0-12, about 85% of its work) sees each augmented copy once: its
 * outputs are cached, so each epoch only runs the top blocks and the head. BatchNormalization stays
 * in inference mode throughout, as in Keras' fine-tuning guide. `neck` and `head` are the layers
 * after the base in the saved model (they are trained here, shared with it).
 */
export async function trainBest(
  base: Functional,
  neck: Layer[],
  head: Dense,
  train: AsyncIterable<Batch>,
  val: AsyncIterable<Batch>,
  o: BestOptions,
): Promise<Record<string, number[]>> {
  const { lower, upper } = splitAt(base, o.cut);
  const augment = new Sequential({
    name: 'augment',
    layers: [
      new RandomFlip({ mode: 'horizontal', seed: o.seed, inputShape: base.inputShape.slice(1) as number[] }),
      new RandomRotation({ factor: 0.1, seed: o.seed + 1 }),
      new RandomZoom({ heightFactor: 0.1, seed: o.seed + 2 }),
    ],
  });
  const sets: FeatureSet[] = [];
  for (let k = 0; k < o.copies; k++) {
    // Copy 0: the photos; then augmented copies, each a new draw of flip/rotation/zoom.
    const stage = {
      async *[Symbol.asyncIterator]() {
        for await (const b of train) {
          if (k === 0) yield b;
          else {
            const xs = tidy(() => augment.apply(b.xs, { training: true }));
            b.xs.dispose();
            yield { xs, ys: b.ys };
          }
        }
      },
    };
    sets.push(await cachedFeatures(lower, stage, `training copy ${k + 1}/${o.copies}`));
  }
  const trainF = concatFeatures(sets);
  sets.length = 0;
  const valF = await cachedFeatures(lower, val, 'validation');
  const top = new Sequential({
    name: 'flowers_top',
    layers: [upper, ...neck, head],
  });
  const steps = Math.ceil(trainF.count / o.batchSize);
  const fitTop = async (epochs: number, initialEpoch: number) =>
    (
      await top.fit(featureBatches(trainF, o.batchSize, o.seed, true), {
        epochs,
        initialEpoch,
        validationData: featureBatches(valF, o.batchSize, o.seed, false),
        stepsPerEpoch: steps,
      })
    ).history;

  // Stage 1: the head alone on the frozen network.
  upper.trainable = false;
  top.compile({
    optimizer: new Adam({ learningRate: o.headLr }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  console.log(`stage 1: the head, ${o.headEpochs} epochs of ${trainF.count} images`);
  const history = await fitTop(o.headEpochs, 0);

  // Stage 2: the top blocks too (BatchNormalization frozen), lower rate, cosine decay to 0.
  upper.trainable = true;
  for (const l of upper.layers) if (l instanceof BatchNormalization) l.trainable = false;
  top.compile({
    optimizer: new Adam({
      learningRate: cosineDecay({ initialLearningRate: o.fineTuneLr, decaySteps: steps * o.fineTuneEpochs }),
    }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  console.log(
    `stage 2: ${top.trainableWeights.length} trainable weights from ${o.cut}, ${o.fineTuneEpochs} epochs`,
  );
  const h2 = await fitTop(o.headEpochs + o.fineTuneEpochs, o.headEpochs);
  for (const [k, v] of Object.entries(h2)) history[k] = [...(history[k] ?? []), ...v];
  augment.dispose();
  return history;
}
