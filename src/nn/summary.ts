import { fmtSym, type Layer } from './layer.js';
import type { Model } from './model.js';

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

function fmtBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]}`;
}

/** Optional extra column ("Connected to" for graph models). */
export interface SummaryRow {
  layer: Layer;
  connectedTo?: string;
}

/** Keras 2-style summary table of a model's layers. */
export function summaryLines(model: Model, rows?: SummaryRow[]): string[] {
  const list: SummaryRow[] = rows ?? model.layers.map((layer) => ({ layer }));
  const graph = list.some((r) => r.connectedTo !== undefined);
  const nameWidth = Math.max(
    graph ? 32 : 33,
    ...list.map((r) => r.layer.name.length + r.layer.className.length + 5),
  );
  const widths = graph ? [nameWidth, 26, 12, 30] : [nameWidth, 26, 12];
  const width = widths.reduce((a, b) => a + b, 0);
  const cell = (s: string, w: number) => (s.length >= w ? `${s} ` : s.padEnd(w));
  const row = (cols: string[]) =>
    cols
      .map((c, i) => cell(c, widths[i]))
      .join('')
      .trimEnd();
  const out: string[] = [`Model: "${model.name}"`, '_'.repeat(width)];
  out.push(row(['Layer (type)', 'Output Shape', 'Param #', ...(graph ? ['Connected to'] : [])]));
  out.push('='.repeat(width));
  list.forEach((r, i) => {
    const l = r.layer;
    const shape = l.outputShapeBuilt ? fmtSym(l.outputShapeBuilt) : 'multiple';
    out.push(
      row([
        `${l.name} (${l.className})`,
        shape,
        fmtInt(l.countParams()),
        ...(graph ? [r.connectedTo ?? ''] : []),
      ]),
    );
    if (i < list.length - 1) out.push('');
  });
  out.push('='.repeat(width));
  const total = model.countParams();
  const trainable = model.trainableWeights.reduce((n, w) => n + w.size, 0);
  out.push(`Total params: ${fmtInt(total)} (${fmtBytes(total * 4)})`);
  out.push(`Trainable params: ${fmtInt(trainable)} (${fmtBytes(trainable * 4)})`);
  out.push(`Non-trainable params: ${fmtInt(total - trainable)} (${fmtBytes((total - trainable) * 4)})`);
  out.push('_'.repeat(width));
  return out;
}
