/**
 * The "train a new head" panel: a few photos per class, their frozen-MobileNetV2 features computed
 * once, then a Dense(softmax) head fitted in the page with a live chart.
 */
import {
  Adam,
  type Callback,
  Dense,
  decodeAndResize,
  Flatten,
  type Functional,
  Sequential,
  type Tensor,
  tensor,
  tidy,
} from '../../src/index.js';
import { type Curves, drawCurves } from './chart.js';

export interface Classifier {
  classNames: string[];
  predict(pixels: Float32Array): Promise<Float32Array>;
}

export interface TrainingSetup {
  base: Functional;
  imageSize: [number, number];
  preprocess: (x: Tensor) => Tensor;
  defaultNames: string[];
  onTrained: (c: Classifier) => void;
}

interface Photo {
  name: string;
  bytes: Uint8Array;
  url: string;
  /** Features of the frozen base, computed once. */
  features?: Float32Array;
}

interface Slot {
  nameInput: HTMLInputElement;
  thumbs: HTMLElement;
  photos: Photo[];
}

const SLOTS = 5;
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const nextFrame = () => new Promise<void>((ok) => setTimeout(ok, 0));

export function setupTraining(s: TrainingSetup): void {
  const status = $('train-status');
  const progress = $<HTMLProgressElement>('train-progress');
  const trainButton = $<HTMLButtonElement>('train-button');
  const samplesButton = $<HTMLButtonElement>('use-samples');
  const canvas = $<HTMLCanvasElement>('chart');
  const [h, w] = s.imageSize;
  let head: Sequential | undefined;
  let busy = false;

  const slots: Slot[] = [];
  for (let i = 0; i < SLOTS; i++) {
    const row = document.createElement('div');
    row.className = 'class-row';
    const nameInput = document.createElement('input');
    nameInput.type = 'text';
    nameInput.value = s.defaultNames[i] ?? `class ${i + 1}`;
    nameInput.setAttribute('aria-label', `name of class ${i + 1}`);
    const pick = document.createElement('input');
    pick.type = 'file';
    pick.multiple = true;
    pick.accept = 'image/jpeg,image/png';
    pick.hidden = true;
    const add = document.createElement('label');
    add.className = 'add';
    add.append('+ photos', pick);
    const thumbs = document.createElement('div');
    thumbs.className = 'thumbs';
    row.append(nameInput, add, thumbs);
    $('classes').append(row);
    const slot: Slot = { nameInput, thumbs, photos: [] };
    slots.push(slot);
    pick.addEventListener('change', () => {
      void addFiles(slot, Array.from(pick.files ?? []));
      pick.value = '';
    });
    row.addEventListener('dragover', (e) => {
      e.preventDefault();
      row.classList.add('over');
    });
    row.addEventListener('dragleave', () => row.classList.remove('over'));
    row.addEventListener('drop', (e) => {
      e.preventDefault();
      row.classList.remove('over');
      void addFiles(slot, Array.from(e.dataTransfer?.files ?? []));
    });
  }

  const refresh = () => {
    for (const slot of slots) {
      slot.thumbs.replaceChildren(
        ...slot.photos.slice(0, 8).map((p) => Object.assign(new Image(), { src: p.url, alt: p.name })),
      );
      if (slot.photos.length > 8) slot.thumbs.append(` +${slot.photos.length - 8}`);
      if (slot.photos.length === 0) slot.thumbs.textContent = 'no photos yet';
    }
    const used = slots.filter((sl) => sl.photos.length > 0).length;
    trainButton.disabled = busy || used < 2;
    if (!busy) {
      status.textContent =
        used < 2
          ? 'Add photos to at least two classes to start.'
          : `${slots.reduce((n, sl) => n + sl.photos.length, 0)} photos in ${used} classes: ready to train.`;
    }
  };

  async function addFiles(slot: Slot, files: File[]): Promise<void> {
    for (const f of files) {
      slot.photos.push({
        name: f.name,
        bytes: new Uint8Array(await f.arrayBuffer()),
        url: URL.createObjectURL(f),
      });
    }
    refresh();
  }

  // Sample photos, served by `npm run web` from the flowers data set when it is on disk.
  void (async () => {
    const res = await fetch('/samples/index.json').catch(() => undefined);
    const idx = res?.ok ? ((await res.json()) as { classes: Record<string, string[]> }) : { classes: {} };
    const names = Object.keys(idx.classes).slice(0, SLOTS);
    if (names.length < 2) {
      samplesButton.title = 'No sample photos on this server';
      return;
    }
    samplesButton.disabled = false;
    samplesButton.addEventListener('click', async () => {
      samplesButton.disabled = true;
      for (const [i, cls] of names.entries()) {
        const slot = slots[i];
        slot.nameInput.value = cls;
        slot.photos = [];
        for (const file of idx.classes[cls]) {
          const url = `/samples/${encodeURIComponent(cls)}/${encodeURIComponent(file)}`;
          const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
          slot.photos.push({ name: file, bytes, url });
        }
      }
      samplesButton.disabled = false;
      refresh();
    });
  })();

  trainButton.addEventListener('click', () => {
    if (busy) return;
    busy = true;
    refresh();
    document.body.dataset.train = 'features';
    train()
      .then(() => {
        document.body.dataset.train = 'done';
      })
      .catch((e: unknown) => {
        document.body.dataset.train = 'error';
        status.textContent = `Training failed: ${(e as Error).message}`;
        console.error(e);
      })
      .finally(() => {
        busy = false;
        trainButton.disabled = false;
      });
  });

  async function train(): Promise<void> {
    const used = slots.filter((sl) => sl.photos.length > 0);
    const classNames = used.map((sl, i) => sl.nameInput.value.trim() || `class ${i + 1}`);
    const photos = used.flatMap((sl, label) => sl.photos.map((p) => ({ p, label })));
    const epochs = Math.max(1, Math.min(200, Math.round(Number($<HTMLInputElement>('epochs').value) || 15)));
    const lr = Number($<HTMLInputElement>('lr').value) || 1e-3;

    // 1. Features of the frozen base, once per photo.
    const featShape = (s.base.outputShape as number[]).slice(1);
    const per = featShape.reduce((a, d) => a * d, 1);
    const t0 = performance.now();
    for (const [i, { p }] of photos.entries()) {
      status.textContent = `Computing MobileNetV2 features: photo ${i + 1} of ${photos.length}…`;
      progress.value = (0.3 * i) / photos.length;
      await nextFrame();
      if (p.features) continue;
      const { pixels } = decodeAndResize(p.bytes, { size: [h, w], path: p.name });
      const x = tensor(pixels, [1, h, w, 3]);
      const f = tidy(() => s.base.apply(s.preprocess(x), { training: false }));
      x.dispose();
      p.features = (await f.data()) as Float32Array;
      f.dispose();
    }
    const featSeconds = (performance.now() - t0) / 1000;

    // 2. A new head, fitted on those features.
    const xs = new Float32Array(photos.length * per);
    photos.forEach(({ p }, i) => {
      xs.set(p.features!, i * per);
    });
    const x = tensor(xs, [photos.length, ...featShape]);
    const y = tensor(
      Int32Array.from(photos, (q) => q.label),
      [photos.length],
      'int32',
    );
    const previous = head;
    head = new Sequential({
      name: 'page_head',
      layers: [
        new Flatten({ inputShape: featShape }),
        new Dense({ units: classNames.length, activation: 'softmax' }),
      ],
    });
    head.compile({
      optimizer: new Adam({ learningRate: lr }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
    document.body.dataset.train = 'training';
    const batchSize = 8;
    const steps = Math.ceil(photos.length / batchSize);
    const curves: Curves = { epochs, batchLoss: [], loss: [], accuracy: [] };
    let epochNow = 0;
    const t1 = performance.now();
    const live: Callback = {
      onEpochBegin: (epoch) => {
        epochNow = epoch;
      },
      onBatchEnd: async (batch, logs) => {
        curves.batchLoss.push({ x: epochNow + (batch + 1) / steps, y: logs.loss });
        progress.value = 0.3 + (0.7 * (epochNow + (batch + 1) / steps)) / epochs;
        drawCurves(canvas, curves);
        await nextFrame();
      },
      onEpochEnd: async (epoch, logs) => {
        curves.loss.push({ x: epoch + 1, y: logs.loss });
        curves.accuracy.push({ x: epoch + 1, y: logs.accuracy });
        status.textContent = `Epoch ${epoch + 1}/${epochs} — loss ${logs.loss.toFixed(4)} — accuracy ${logs.accuracy.toFixed(3)}`;
        drawCurves(canvas, curves);
        await nextFrame();
      },
    };
    try {
      await head.fit(x, y, { epochs, batchSize, shuffle: true, verbose: 0, callbacks: [live] });
    } catch (e) {
      head.dispose();
      head = previous;
      throw e;
    } finally {
      x.dispose();
      y.dispose();
    }
    const trainSeconds = (performance.now() - t1) / 1000;
    progress.value = 1;
    const last = curves.loss.length - 1;
    status.textContent =
      `Trained on ${photos.length} photos: features ${featSeconds.toFixed(1)} s, ${epochs} epochs ${trainSeconds.toFixed(1)} s — ` +
      `loss ${curves.loss[last].y.toFixed(4)}, accuracy ${curves.accuracy[last].y.toFixed(3)}. ` +
      'Pick "trained here" on the left to classify with it.';
    status.dataset.firstLoss = String(curves.loss[0].y);
    status.dataset.lastLoss = String(curves.loss[last].y);

    const trained = head;
    s.onTrained({
      classNames,
      predict: async (pixels) => {
        const x1 = tensor(pixels, [1, h, w, 3]);
        const p = tidy(() =>
          trained.apply(s.base.apply(s.preprocess(x1), { training: false }), { training: false }),
        );
        x1.dispose();
        const out = (await p.data()) as Float32Array;
        p.dispose();
        return out;
      },
    });
    // The classify panel now uses the new head; the old one can go.
    previous?.dispose();
  }

  refresh();
}
