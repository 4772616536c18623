/**
 * The web demo: classifies photos with the flowers model trained by `npm run flowers`, and trains
 * a new head in the page. Plain TypeScript and DOM; served and bundled by server.ts.
 *
 * The import below is the library's core; server.ts bundles this file with that import left as an
 * import of /wgsl-nn.js (dist/browser), exactly what a page using the package does.
 */
import {
  decodeAndResize,
  deviceInfo,
  Functional,
  getDevice,
  loadModel,
  type Model,
  mobileNetV2,
  tensor,
  tidy,
} from '../../src/index.js';
import { type Classifier, setupTraining } from './train.js';

interface Meta {
  classNames: string[];
  imageSize: [number, number];
  preprocessing: string;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const setState = (s: string) => {
  document.body.dataset.state = s;
};

function fail(where: HTMLElement, message: string): void {
  where.textContent = message;
  where.hidden = false;
  setState('error');
}

async function main(): Promise<void> {
  const gpuError = $('gpu-error');
  if (!('gpu' in navigator)) {
    $('adapter').textContent = 'WebGPU unavailable';
    return fail(
      gpuError,
      'This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge, Firefox 141+ or ' +
        'Safari 26+; on Linux, Chrome needs --enable-unsafe-webgpu --enable-features=Vulkan. WebGPU also ' +
        'needs a secure context: open the page from localhost or https.',
    );
  }
  try {
    await getDevice();
  } catch (e) {
    $('adapter').textContent = 'WebGPU unavailable';
    return fail(gpuError, `WebGPU is present but no device could be created: ${(e as Error).message}`);
  }
  const info = deviceInfo();
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unknown';
  $('adapter').textContent =
    `WebGPU: ${name} · max storage binding ${Math.round(info.limits.maxStorageBufferBindingSize / 2 ** 20)} MiB`;
  $('adapter').title = JSON.stringify(info, null, 1);

  const modelStatus = $('model-status');
  let meta: Meta;
  let model: Model;
  const t0 = performance.now();
  try {
    const res = await fetch('/model/flowers.json');
    if (!res.ok) throw new Error(`/model/flowers.json: HTTP ${res.status}`);
    meta = (await res.json()) as Meta;
    if (meta.preprocessing !== 'mobilenet_v2')
      throw new Error(`unknown preprocessing ${JSON.stringify(meta.preprocessing)}`);
    model = await loadModel('/model/model.json');
  } catch (e) {
    return fail(modelStatus, `Could not load the model: ${(e as Error).message}`);
  }
  const loadMs = performance.now() - t0;
  const [h, w] = meta.imageSize;
  modelStatus.textContent = `Model: ${model.name} · ${meta.classNames.length} classes · ${h}×${w} input · loaded in ${loadMs.toFixed(0)} ms`;
  modelStatus.dataset.ms = loadMs.toFixed(1);

  const loaded: Classifier = {
    classNames: meta.classNames,
    predict: async (pixels) => {
      const x = tensor(pixels, [1, h, w, 3]);
      const p = tidy(() => model.apply(mobileNetV2.preprocessInput(x), { training: false }));
      x.dispose();
      const out = (await p.data()) as Float32Array;
      p.dispose();
      return out;
    },
  };
  let trained: Classifier | undefined;
  const headSelect = $<HTMLSelectElement>('head-select');
  const active = () => (headSelect.value === 'trained' && trained ? trained : loaded);

  // Classification, one photo at a time.
  let lastBytes: Uint8Array | undefined;
  let lastName = '';
  let queue = Promise.resolve();
  let firstRun = true;
  const classify = (bytes: Uint8Array, fileName: string) => {
    lastBytes = bytes;
    lastName = fileName;
    queue = queue
      .then(() => runClassify(bytes, fileName))
      .catch((e: unknown) => {
        $('result-label').textContent = `Could not classify ${fileName}: ${(e as Error).message}`;
        setState('error');
      });
  };
  async function runClassify(bytes: Uint8Array, fileName: string): Promise<void> {
    setState('predicting');
    $('result-label').textContent = 'Thinking…';
    const c = active();
    const { pixels } = decodeAndResize(bytes, { size: [h, w], path: fileName });
    const t = performance.now();
    const probs = await c.predict(pixels);
    const ms = performance.now() - t;
    const ranked = c.classNames.map((n, i) => ({ n, p: probs[i] })).sort((a, b) => b.p - a.p);
    $('result-label').textContent = `${ranked[0].n} · ${(100 * ranked[0].p).toFixed(1)}%`;
    $('results').replaceChildren(
      ...ranked.slice(0, 5).map(({ n, p }) => {
        const li = document.createElement('li');
        li.dataset.class = n;
        li.dataset.p = String(p);
        const label = Object.assign(document.createElement('span'), { textContent: n });
        const track = Object.assign(document.createElement('span'), { className: 'track' });
        const fill = Object.assign(document.createElement('span'), { className: 'fill' });
        fill.style.display = 'block';
        fill.style.width = `${(100 * p).toFixed(2)}%`;
        track.append(fill);
        const pct = Object.assign(document.createElement('span'), {
          className: 'pct',
          textContent: `${(100 * p).toFixed(1)}%`,
        });
        li.append(label, track, pct);
        return li;
      }),
    );
    // For scripts and tests: which photo and which head the bars show.
    $('results').dataset.file = fileName;
    $('results').dataset.head = c === loaded ? 'loaded' : 'trained';
    const timing = $('timing');
    timing.textContent = `Inference: ${ms.toFixed(0)} ms on WebGPU${firstRun ? ' (first run, includes compiling the shaders)' : ''}`;
    timing.dataset.ms = ms.toFixed(1);
    firstRun = false;
    setState('predicted');
  }

  const drop = $('drop');
  const fileInput = $<HTMLInputElement>('file');
  const preview = $<HTMLImageElement>('preview');
  const takeFile = async (f: File | undefined) => {
    if (!f) return;
    preview.src = URL.createObjectURL(f);
    preview.alt = f.name;
    preview.hidden = false;
    $('drop-hint').hidden = true;
    classify(new Uint8Array(await f.arrayBuffer()), f.name);
  };
  fileInput.addEventListener('change', () => {
    void takeFile(fileInput.files?.[0]);
    fileInput.value = '';
  });
  drop.addEventListener('click', () => fileInput.click());
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void takeFile(e.dataTransfer?.files[0]);
  });
  headSelect.addEventListener('change', () => {
    if (lastBytes) classify(lastBytes, lastName);
  });

  const base = model.layers[0];
  if (base instanceof Functional) {
    setupTraining({
      base,
      imageSize: [h, w],
      preprocess: mobileNetV2.preprocessInput,
      defaultNames: meta.classNames,
      onTrained: (c) => {
        trained = c;
        const opt = headSelect.querySelector<HTMLOptionElement>('option[value="trained"]')!;
        opt.disabled = false;
        opt.textContent = `trained here (${c.classNames.join(', ')})`;
      },
    });
  } else {
    $('train-status').textContent = "This model's first layer is not a MobileNetV2 base: training is off.";
  }
  setState('ready');
}

void main().catch((e: unknown) => {
  fail($('gpu-error'), `The demo failed to start: ${(e as Error).message}`);
  console.error(e);
});
