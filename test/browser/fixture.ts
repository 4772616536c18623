/**
 * A small trained flowers model for the browser tests, made in Node in a few seconds: ImageNet
 * MobileNetV2 (192x192, frozen) + Flatten + Dense(5, softmax), the head fitted briefly on the
 * features of a few photos per class. Written like `npm run flowers` writes out/flowers/
 * (model.safetensors + model.json + flowers.json). It is a fixture, not a good classifier.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Adam,
  Dense,
  decodeAndResize,
  Flatten,
  loadMobileNetV2Weights,
  mobileNetV2,
  Sequential,
  setSeed,
  tensor,
  tidy,
} from '../../src/node.js';

export const IMAGE_SIZE: [number, number] = [192, 192];

export interface Fixture {
  modelDir: string;
  classNames: string[];
  trainPhotos: number;
  seconds: { features: number; fit: number; total: number };
  /** Probabilities in Node for each photo path given to predictNode. */
  predictNode(paths: string[]): Promise<Float32Array[]>;
  dispose(): void;
}

function loadPixels(paths: string[]): Float32Array {
  const [h, w] = IMAGE_SIZE;
  const out = new Float32Array(paths.length * h * w * 3);
  paths.forEach((p, i) => {
    decodeAndResize(
      new Uint8Array(readFileSync(p)),
      { size: [h, w], path: p },
      out.subarray(i * h * w * 3, (i + 1) * h * w * 3),
    );
  });
  return out;
}

export async function makeFlowersFixture(opts: {
  dir: string;
  flowersDir: string;
  backbone: string;
  perClass: number;
  epochs: number;
  learningRate?: number;
  seed?: number;
}): Promise<Fixture> {
  const t0 = performance.now();
  setSeed(opts.seed ?? 7);
  const classNames = readdirSync(opts.flowersDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const files: string[] = [];
  const labels: number[] = [];
  classNames.forEach((c, k) => {
    const names = readdirSync(join(opts.flowersDir, c))
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()
      .slice(0, opts.perClass);
    for (const f of names) {
      files.push(join(opts.flowersDir, c, f));
      labels.push(k);
    }
  });

  const [h, w] = IMAGE_SIZE;
  const base = mobileNetV2({ inputShape: [h, w, 3], includeTop: false });
  await loadMobileNetV2Weights(base, { backbone: opts.backbone });
  base.trainable = false;
  const head = new Dense({ units: classNames.length, activation: 'softmax', name: 'dense' });
  const model = new Sequential({ name: 'flowers', layers: [base, new Flatten({ name: 'flatten' }), head] });

  // Features of the frozen base, in batches of 8.
  const featShape = (base.outputShape as number[]).slice(1);
  const per = featShape.reduce((a, d) => a * d, 1);
  const feats = new Float32Array(files.length * per);
  for (let s = 0; s < files.length; s += 8) {
    const batch = files.slice(s, s + 8);
    const x = tensor(loadPixels(batch), [batch.length, h, w, 3]);
    const f = tidy(() => base.apply(mobileNetV2.preprocessInput(x), { training: false }));
    feats.set((await f.data()) as Float32Array, s * per);
    x.dispose();
    f.dispose();
  }
  const tFeatures = performance.now();

  const headModel = new Sequential({
    name: 'flowers_head',
    layers: [new Flatten({ inputShape: featShape }), head],
  });
  headModel.compile({
    optimizer: new Adam({ learningRate: opts.learningRate ?? 1e-4 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const xs = tensor(feats, [files.length, ...featShape]);
  const ys = tensor(Int32Array.from(labels), [files.length], 'int32');
  await headModel.fit(xs, ys, { epochs: opts.epochs, batchSize: 8, seed: opts.seed ?? 7, verbose: 0 });
  xs.dispose();
  ys.dispose();
  const tFit = performance.now();

  await model.saveWeights(join(opts.dir, 'model.safetensors'));
  writeFileSync(
    join(opts.dir, 'flowers.json'),
    `${JSON.stringify({ classNames, imageSize: IMAGE_SIZE, preprocessing: 'mobilenet_v2' }, null, 1)}\n`,
  );
  return {
    modelDir: opts.dir,
    classNames,
    trainPhotos: files.length,
    seconds: {
      features: (tFeatures - t0) / 1000,
      fit: (tFit - tFeatures) / 1000,
      total: (performance.now() - t0) / 1000,
    },
    async predictNode(paths) {
      const out: Float32Array[] = [];
      for (const p of paths) {
        const x = tensor(loadPixels([p]), [1, h, w, 3]);
        const y = tidy(() => model.apply(mobileNetV2.preprocessInput(x), { training: false }));
        out.push((await y.data()) as Float32Array);
        x.dispose();
        y.dispose();
      }
      return out;
    },
    dispose() {
      model.dispose();
    },
  };
}
