/**
 * Classifies images with a model saved by `npm run flowers`: one JSON line per image,
 * {"path", "label", "probabilities"}. Images inside class-named folders also count toward an
 * accuracy summary printed to stderr.
 *
 *   npm run predict -- --model out/flowers IMAGE_OR_DIR...
 *   npm run predict -- --model out/flowers --files out/flowers/validation_files.txt
 *
 * `--files LIST` reads the image paths from a text file (one per line), e.g. the validation photos
 * that `npm run flowers` held out of training.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  decodeAndResize,
  getDevice,
  loadModel,
  type Model,
  mobileNetV2,
  tensor,
  tidy,
} from '../../src/node.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    batch: { type: 'string', default: '32' },
    files: { type: 'string' },
  },
});
if (opt.files) {
  try {
    positionals.push(
      ...readFileSync(opt.files, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0),
    );
  } catch (e) {
    console.error(`error: cannot read --files ${opt.files}: ${(e as Error).message}`);
    process.exit(2);
  }
}
if (!opt.model || positionals.length === 0) {
  console.error('usage: npm run predict -- --model DIR [--files LIST] IMAGE_OR_DIR...');
  process.exit(2);
}
const modelDir = opt.model;

interface Meta {
  classNames: string[];
  imageSize: [number, number];
  preprocessing: string;
}
let meta: Meta;
try {
  meta = JSON.parse(readFileSync(join(modelDir, 'flowers.json'), 'utf8'));
  if (!Array.isArray(meta.classNames) || !Array.isArray(meta.imageSize))
    throw new Error('classNames/imageSize missing');
} catch (e) {
  console.error(
    `error: ${modelDir} is not a model folder written by npm run flowers (flowers.json: ${(e as Error).message})`,
  );
  process.exit(2);
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);
function expand(p: string): string[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(p);
  } catch {
    return [p]; // reported as unreadable below
  }
  if (!st.isDirectory()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((name) => {
      const full = join(p, name);
      return statSync(full).isDirectory() || IMAGE_EXT.has(extname(name).toLowerCase()) ? expand(full) : [];
    });
}

await getDevice();
let model: Model;
try {
  model = await loadModel(join(modelDir, 'model.safetensors'));
} catch (e) {
  console.error(`error: cannot load the model in ${modelDir}: ${(e as Error).message}`);
  process.exit(2);
}
const [h, w] = meta.imageSize;
const paths = positionals.flatMap(expand);
let failures = 0;
let labelled = 0;
let correct = 0;
const batch = Number(opt.batch);
for (let s = 0; s < paths.length; s += batch) {
  const ok: Array<{ path: string; pixels: Float32Array }> = [];
  for (const path of paths.slice(s, s + batch)) {
    try {
      const { pixels } = decodeAndResize(new Uint8Array(readFileSync(path)), { size: [h, w], path });
      ok.push({ path, pixels });
    } catch (e) {
      failures++;
      console.error(`error: ${path}: ${(e as Error).message}`);
    }
  }
  if (ok.length === 0) continue;
  const x = new Float32Array(ok.length * h * w * 3);
  ok.forEach((o, i) => {
    x.set(o.pixels, i * h * w * 3);
  });
  const raw = tensor(x, [ok.length, h, w, 3]);
  const probs = await tidy(() => model.apply(mobileNetV2.preprocessInput(raw), { training: false })).data();
  raw.dispose();
  const c = meta.classNames.length;
  ok.forEach((o, i) => {
    const p = Array.from(probs.subarray(i * c, (i + 1) * c));
    const k = p.indexOf(Math.max(...p));
    const probabilities = Object.fromEntries(meta.classNames.map((n, j) => [n, Number(p[j].toFixed(6))]));
    console.log(JSON.stringify({ path: o.path, label: meta.classNames[k], probabilities }));
    const folder = basename(dirname(o.path));
    if (meta.classNames.includes(folder)) {
      labelled++;
      if (folder === meta.classNames[k]) correct++;
    }
  });
}
if (labelled > 0)
  console.error(
    `accuracy: ${(correct / labelled).toFixed(4)} over ${labelled} images in class-named folders`,
  );
if (failures > 0) {
  console.error(`${failures} image(s) could not be read`);
  process.exit(1);
}
