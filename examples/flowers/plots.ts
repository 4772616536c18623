/**
 * The lab's two pictures, drawn with @napi-rs/canvas (Skia): training curves (loss and accuracy,
 * train vs validation) and a 3x3 grid of validation images with predicted and true class.
 */
import { writeFile } from 'node:fs/promises';
import { createCanvas, ImageData, type SKRSContext2D } from '@napi-rs/canvas';

const TRAIN = '#1f77b4';
const VAL = '#ff7f0e';

function niceTicks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || 1;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function panel(
  g: SKRSContext2D,
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  series: Array<{ label: string; values: number[]; color: string }>,
): void {
  const left = x0 + 60;
  const top = y0 + 40;
  const right = x0 + w - 20;
  const bottom = y0 + h - 50;
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  const pad = (hi - lo || 1) * 0.08;
  lo -= pad;
  hi += pad;
  const n = Math.max(...series.map((s) => s.values.length));
  const px = (i: number) => left + (n <= 1 ? 0.5 : i / (n - 1)) * (right - left);
  const py = (v: number) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
  g.fillStyle = '#000';
  g.font = 'bold 16px DejaVu Sans, sans-serif';
  g.textAlign = 'center';
  g.fillText(title, (left + right) / 2, y0 + 24);
  g.font = '12px DejaVu Sans, sans-serif';
  g.strokeStyle = '#ddd';
  g.lineWidth = 1;
  for (const t of niceTicks(lo, hi)) {
    g.beginPath();
    g.moveTo(left, py(t));
    g.lineTo(right, py(t));
    g.stroke();
    g.textAlign = 'right';
    g.fillText(t.toFixed(2), left - 6, py(t) + 4);
  }
  g.textAlign = 'center';
  for (let i = 0; i < n; i++) g.fillText(String(i + 1), px(i), bottom + 18);
  g.textAlign = 'right';
  g.fillText('epoch', right, bottom + 38);
  g.strokeStyle = '#333';
  g.strokeRect(left, top, right - left, bottom - top);
  series.forEach((s, k) => {
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    g.lineWidth = 2;
    g.beginPath();
    s.values.forEach((v, i) => {
      if (i === 0) g.moveTo(px(i), py(v));
      else g.lineTo(px(i), py(v));
    });
    g.stroke();
    for (let i = 0; i < s.values.length; i++) {
      g.beginPath();
      g.arc(px(i), py(s.values[i]), 3, 0, 2 * Math.PI);
      g.fill();
    }
    // Legend under the x axis label, left of it, so it never hides a curve.
    g.textAlign = 'left';
    const lx = left + k * 110;
    g.fillRect(lx, bottom + 34, 14, 3);
    g.fillStyle = '#000';
    g.fillText(s.label, lx + 20, bottom + 39);
  });
}

/** Writes training_curves.png from a Keras-style history (loss, accuracy, val_loss, val_accuracy). */
export async function plotTrainingCurves(history: Record<string, number[]>, path: string): Promise<void> {
  const canvas = createCanvas(1000, 400);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, 1000, 400);
  const pick = (k: string, label: string, color: string) =>
    history[k] ? [{ label, values: history[k], color }] : [];
  panel(g, 0, 0, 500, 400, 'Loss', [...pick('loss', 'train', TRAIN), ...pick('val_loss', 'validation', VAL)]);
  panel(g, 500, 0, 500, 400, 'Accuracy', [
    ...pick('accuracy', 'train', TRAIN),
    ...pick('val_accuracy', 'validation', VAL),
  ]);
  await writeFile(path, canvas.toBuffer('image/png'));
}

export interface GridItem {
  /** RGB pixels 0..255, row-major [h, w, 3]. */
  pixels: Float32Array | Uint8Array;
  height: number;
  width: number;
  predicted: string;
  actual: string;
  probability: number;
}

/** Writes predictions.png: a 3x3 grid, each image titled "predicted (true)", wrong ones in red. */
export async function plotPredictionGrid(items: GridItem[], path: string): Promise<void> {
  const cell = 220;
  const titleH = 44;
  const canvas = createCanvas(cell * 3, (cell + titleH) * 3);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  items.slice(0, 9).forEach((it, k) => {
    const cx = (k % 3) * cell;
    const cy = Math.floor(k / 3) * (cell + titleH);
    const rgba = new Uint8ClampedArray(it.width * it.height * 4);
    for (let i = 0; i < it.width * it.height; i++) {
      rgba[4 * i] = it.pixels[3 * i];
      rgba[4 * i + 1] = it.pixels[3 * i + 1];
      rgba[4 * i + 2] = it.pixels[3 * i + 2];
      rgba[4 * i + 3] = 255;
    }
    const img = createCanvas(it.width, it.height);
    img.getContext('2d').putImageData(new ImageData(rgba, it.width, it.height), 0, 0);
    const size = cell - 20;
    const wrong = it.predicted !== it.actual;
    g.drawImage(img, cx + 10, cy + titleH, size, size);
    g.fillStyle = wrong ? '#d62728' : '#000';
    g.font = 'bold 13px DejaVu Sans, sans-serif';
    g.textAlign = 'center';
    g.fillText(`predicted: ${it.predicted} ${(100 * it.probability).toFixed(0)}%`, cx + cell / 2, cy + 18);
    g.font = '13px DejaVu Sans, sans-serif';
    g.fillText(`true: ${it.actual}${wrong ? '  (wrong)' : ''}`, cx + cell / 2, cy + 36);
    if (wrong) {
      g.strokeStyle = '#d62728';
      g.lineWidth = 4;
      g.strokeRect(cx + 10, cy + titleH, size, size);
    }
  });
  await writeFile(path, canvas.toBuffer('image/png'));
}
