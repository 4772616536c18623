/**
 * The bar of issue 16: on flower photos the tests never use, our decode + 192x192 bilinear resize
 * (+ MobileNetV2 out_relu) against Keras' own pipeline, whose outputs make_reference.py wrote into
 * bench/keras-pipeline/out/. Prints, per photo and overall, the largest pixel difference (levels)
 * and the relative L2 error of the features, for the new decoder and for the old path (jpeg-js,
 * nearest chroma) as a baseline.
 *
 * usage: python bench/keras-pipeline/make_reference.py && npx tsx bench/keras-pipeline/compare.ts
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import {
  decodeAndResize,
  getDevice,
  loadMobileNetV2Weights,
  mobileNetV2,
  resizeBilinearCpu,
  type Tensor,
  tensor,
  tidy,
} from '../../src/node.js';

const here = dirname(fileURLToPath(import.meta.url));
const shared = process.env.WGSL_NN_SHARED ?? join(here, '..', '..', '..', 'shared');
const flowers = join(shared, 'data', 'flower_photos');
const weights = join(shared, 'weights', 'mobilenet_v2', 'mobilenet_v2_1.0_224_no_top.safetensors');
const out = join(here, 'out');

interface Entry {
  file: string;
  key: string;
  sampling: string | null;
}
if (!existsSync(join(out, 'manifest.json'))) {
  console.error('run python bench/keras-pipeline/make_reference.py first');
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
  size: number;
  images: Entry[];
};
const S = manifest.size;

const f32 = (path: string): Float32Array => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

function pixelDiff(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

function relL2(a: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function oldPath(bytes: Uint8Array): Float32Array {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  return resizeBilinearCpu({ width: img.width, height: img.height, channels: 3, data: img.data }, [S, S]);
}

await getDevice();
const model = mobileNetV2({ inputShape: [S, S, 3], includeTop: false });
await loadMobileNetV2Weights(model, { backbone: weights });
async function features(pixels: Float32Array): Promise<Float32Array> {
  const x = tensor(pixels, [1, S, S, 3]);
  const y = tidy(() => model.apply(mobileNetV2.preprocessInput(x)) as Tensor);
  const d = (await y.data()) as Float32Array;
  x.dispose();
  y.dispose();
  return d;
}

const worst = { newPx: 0, oldPx: 0, newFeat: 0, oldFeat: 0 };
let meanNewFeat = 0;
let meanOldFeat = 0;
console.log(
  'photo | sampling | new: max px, mean px, feat rel L2 | old (jpeg-js): max px, mean px, feat rel L2',
);
for (const e of manifest.images) {
  const bytes = new Uint8Array(readFileSync(join(flowers, e.file)));
  const refPx = f32(join(out, `${e.key}.pixels.f32`));
  const refFeat = f32(join(out, `${e.key}.out_relu.f32`));
  const ours = decodeAndResize(bytes, { size: [S, S] }).pixels;
  const old = oldPath(bytes);
  const pn = pixelDiff(ours, refPx);
  const po = pixelDiff(old, refPx);
  const fn = relL2(await features(ours), refFeat);
  const fo = relL2(await features(old), refFeat);
  worst.newPx = Math.max(worst.newPx, pn.max);
  worst.oldPx = Math.max(worst.oldPx, po.max);
  worst.newFeat = Math.max(worst.newFeat, fn);
  worst.oldFeat = Math.max(worst.oldFeat, fo);
  meanNewFeat += fn / manifest.images.length;
  meanOldFeat += fo / manifest.images.length;
  console.log(
    `${e.file} | ${e.sampling} | ${pn.max.toFixed(4)}, ${pn.mean.toFixed(5)}, ${(100 * fn).toFixed(3)}% | ` +
      `${po.max.toFixed(2)}, ${po.mean.toFixed(3)}, ${(100 * fo).toFixed(2)}%`,
  );
}
console.log(
  `\n${manifest.images.length} photos. new path: pixels within ${worst.newPx.toFixed(4)} levels, features ` +
    `within ${(100 * worst.newFeat).toFixed(3)}% (mean ${(100 * meanNewFeat).toFixed(3)}%). old path: ` +
    `${worst.oldPx.toFixed(1)} levels, ${(100 * worst.oldFeat).toFixed(2)}% (mean ${(100 * meanOldFeat).toFixed(2)}%).`,
);
const pass = worst.newPx <= 2 && worst.newFeat <= 0.01;
console.log(`bar (pixels <= 2 levels, features <= 1%): ${pass ? 'met' : 'NOT met'}`);
model.dispose();
process.exit(pass ? 0 : 1);
