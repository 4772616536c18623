/** A small canvas chart of training curves: loss on the left axis, accuracy (0..1) on the right. */

export interface Point {
  x: number;
  y: number;
}

export interface Curves {
  /** Epochs planned (the x axis runs 0..epochs). */
  epochs: number;
  batchLoss: Point[];
  loss: Point[];
  accuracy: Point[];
}

const COLORS = { loss: '#c0552f', batch: 'rgba(192, 85, 47, 0.25)', accuracy: '#2f7d4f', grid: '#e4e7e1' };

export function drawCurves(canvas: HTMLCanvasElement, c: Curves): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width: w, height: h } = canvas;
  const pad = { l: 46, r: 46, t: 30, b: 30 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  ctx.clearRect(0, 0, w, h);
  ctx.font = '12px system-ui, "Liberation Sans", sans-serif';

  const maxLoss = Math.max(0.1, ...c.batchLoss.map((p) => p.y), ...c.loss.map((p) => p.y)) * 1.05;
  const X = (x: number) => pad.l + (pw * x) / Math.max(1, c.epochs);
  const YL = (y: number) => pad.t + ph * (1 - y / maxLoss);
  const YA = (y: number) => pad.t + ph * (1 - y);

  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = '#64706a';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (ph * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.l, y);
    ctx.lineTo(pad.l + pw, y);
    ctx.stroke();
    ctx.textAlign = 'right';
    ctx.fillText(((maxLoss * (4 - i)) / 4).toFixed(2), pad.l - 6, y + 4);
    ctx.textAlign = 'left';
    ctx.fillText(((4 - i) / 4).toFixed(2), pad.l + pw + 6, y + 4);
  }
  const step = Math.max(1, Math.ceil(c.epochs / 10));
  ctx.textAlign = 'center';
  for (let e = 0; e <= c.epochs; e += step) ctx.fillText(String(e), X(e), h - pad.b + 16);
  ctx.fillText('epoch', pad.l + pw / 2, h - 2);

  const line = (pts: Point[], y: (v: number) => number, color: string, width: number, dots: boolean) => {
    if (pts.length === 0) return;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    pts.forEach((p, i) => {
      if (i === 0) ctx.moveTo(X(p.x), y(p.y));
      else ctx.lineTo(X(p.x), y(p.y));
    });
    ctx.stroke();
    if (dots) {
      for (const p of pts) {
        ctx.beginPath();
        ctx.arc(X(p.x), y(p.y), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  };
  line(c.batchLoss, YL, COLORS.batch, 1, false);
  line(c.loss, YL, COLORS.loss, 2, true);
  line(c.accuracy, YA, COLORS.accuracy, 2, true);

  // Legend, above the plot.
  ctx.textAlign = 'left';
  const legend: Array<[string, string]> = [
    ['loss (left)', COLORS.loss],
    ['accuracy (right)', COLORS.accuracy],
  ];
  let lx = pad.l + 8;
  for (const [label, color] of legend) {
    ctx.fillStyle = color;
    ctx.fillRect(lx, 10, 12, 3);
    ctx.fillStyle = '#1f2a24';
    ctx.fillText(label, lx + 16, 16);
    lx += ctx.measureText(label).width + 36;
  }
}
