import { type Batch, type Functional, type Model, tensor, tidy } from '../../src/node.js';

/** Features of the frozen base for every image, kept on the CPU ([count, ...featureShape]). */
export interface FeatureSet {
  data: Float32Array;
  labels: Int32Array;
  count: number;
  featureShape: number[];
}

/** Runs the base once over the dataset (inference mode) and keeps its outputs. */
export async function cachedFeatures(
  base: Functional | Model,
  ds: AsyncIterable<Batch>,
  name: string,
): Promise<FeatureSet> {
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  let featureShape: number[] = [];
  let n = 0;
  const t0 = performance.now();
  for await (const b of ds) {
    const f = tidy(() => base.apply(b.xs, { training: false }));
    featureShape = f.shape.slice(1);
    chunks.push((await f.data()) as Float32Array);
    for (const y of await b.ys.data()) labels.push(y);
    n += b.xs.shape[0];
    f.dispose();
    b.xs.dispose();
    b.ys.dispose();
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(`\rcaching ${name} features: ${n} images, ${(n / s).toFixed(1)} images/s`);
  }
  process.stdout.write('\n');
  const per = featureShape.reduce((a, d) => a * d, 1);
  const data = new Float32Array(n * per);
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.length;
  }
  return { data, labels: Int32Array.from(labels), count: n, featureShape };
}

/** Batches of cached features, reshuffled every epoch when `shuffle` is set. */
export function featureBatches(
  f: FeatureSet,
  batchSize: number,
  seed: number,
  shuffle: boolean,
): AsyncIterable<Batch> {
  const per = f.featureShape.reduce((a, d) => a * d, 1);
  let epoch = 0;
  return {
    async *[Symbol.asyncIterator]() {
      const order = Int32Array.from({ length: f.count }, (_, i) => i);
      if (shuffle) {
        let s = (seed + 7919 * epoch++) >>> 0;
        for (let i = f.count - 1; i > 0; i--) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          const j = s % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      for (let start = 0; start < f.count; start += batchSize) {
        const idx = order.subarray(start, Math.min(f.count, start + batchSize));
        const x = new Float32Array(idx.length * per);
        idx.forEach((k, i) => {
          x.set(f.data.subarray(k * per, (k + 1) * per), i * per);
        });
        yield {
          xs: tensor(x, [idx.length, ...f.featureShape]),
          ys: tensor(
            Int32Array.from(idx, (k) => f.labels[k]),
            [idx.length],
            'int32',
          ),
        };
      }
    },
  };
}
