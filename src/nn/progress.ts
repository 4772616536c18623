/**
 * Keras-style training log: a live progress bar on a TTY ("12/41 [=====>....] - ETA: 3s - loss: 0.71"),
 * one plain line per epoch otherwise.
 */

/** Log output of `fit` / `evaluate`: 0 silent, 1 progress bar, 2 one line per epoch, 'auto' 1 on a terminal else 2. */
export type Verbose = 0 | 1 | 2 | 'auto';

/** Where training logs go: a stream-like object (`process.stdout` by default). */
export interface LogSink {
  /** Whether it is a terminal (the progress bar redraws in place only then). */
  isTTY: boolean;
  /** Writes text. */
  write(s: string): void;
}

export function defaultSink(): LogSink {
  const proc = (globalThis as { process?: { stdout?: { isTTY?: boolean; write(s: string): boolean } } })
    .process;
  if (proc?.stdout) {
    return { isTTY: Boolean(proc.stdout.isTTY), write: (s) => void proc.stdout!.write(s) };
  }
  return { isTTY: false, write: (s) => console.log(s.replace(/\n$/, '')) };
}

export function fmtLogs(logs: Record<string, number>): string {
  return Object.entries(logs)
    .map(([k, v]) => ` - ${k}: ${fmtNum(v)}`)
    .join('');
}

/**
 * One logged value as Keras's progress bar prints it: `0.7134` (`.4f`) when |v| > 1e-3, `1.2346e-05`
 * (`.4e`, two-digit exponent) below, `nan`/`inf` as Python does. Where Keras would print every digit
 * of a huge value (`13586378710109388.0000`), we switch to `.4e` from 1e5 up (`1.3586e+16`), and
 * never print JavaScript's 17-digit `1.3508665382243868e+21`.
 */
export function fmtNum(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  if (a > 1e-3 && a < 1e5) return v.toFixed(4);
  // JavaScript writes 1.2346e-5; Python (and so Keras) 1.2346e-05.
  return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
}

function fmtTime(s: number): string {
  if (s >= 3600)
    return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
  if (s >= 60) return `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
  return `${Math.round(s)}s`;
}

export class ProgressBar {
  private readonly start = Date.now();
  private lastDraw = 0;
  constructor(
    private readonly total: number | undefined,
    private readonly sink: LogSink,
    private readonly mode: 1 | 2,
  ) {}

  /** Called after each step with the running averages. */
  update(step: number, logs: Record<string, number>): void {
    if (this.mode !== 1 || !this.sink.isTTY) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && step !== this.total) return;
    this.lastDraw = now;
    const elapsed = (now - this.start) / 1000;
    let bar = '';
    let eta = '';
    if (this.total) {
      const width = 30;
      const done = Math.floor((width * step) / this.total);
      bar = ` [${'='.repeat(Math.max(0, done - 1))}${done > 0 ? (step === this.total ? '=' : '>') : ''}${'.'.repeat(width - done)}]`;
      const left = (elapsed / step) * (this.total - step);
      eta = step < this.total ? ` - ETA: ${fmtTime(left)}` : '';
    }
    const count = this.total
      ? `${String(step).padStart(String(this.total).length)}/${this.total}`
      : `${step}`;
    const perStep = `${Math.round((elapsed * 1000) / step)}ms/step`;
    this.sink.write(`\r${count}${bar}${eta} - ${perStep}${fmtLogs(logs)}\x1b[K`);
  }

  /** Final line of the epoch, with validation logs. */
  finish(steps: number, logs: Record<string, number>): void {
    const elapsed = (Date.now() - this.start) / 1000;
    const perStep = `${Math.round((elapsed * 1000) / Math.max(1, steps))}ms/step`;
    const total = this.total ?? steps;
    const bar = this.mode === 1 ? ` [${'='.repeat(30)}]` : '';
    const head = this.mode === 1 && this.sink.isTTY ? '\r' : '';
    const clear = this.sink.isTTY ? '\x1b[K' : '';
    this.sink.write(
      `${head}${total}/${total}${bar} - ${fmtTime(elapsed)} ${perStep}${fmtLogs(logs)}${clear}\n`,
    );
  }
}
