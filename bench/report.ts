import type { BenchCase } from './cases.js';
import { fmt, markdownTable, type Timing } from './harness.js';
import type { SessionCase } from './model-cases.js';

/**
 * The bench's result rows (one per case, as written to bench/results/latest.json) and the Markdown
 * tables `npm run bench` prints from them.
 */

/** A case of any kind: an op case (cases.ts) or a whole-model session (model-cases.ts). */
export type AnyCase = BenchCase | SessionCase;

/** One case's result: our timing, TF.js's, the other peers' rates and ratios, and the output check. */
export interface Row {
  op: string;
  shape: string;
  unit: string;
  work: number;
  ours: Timing & { rate: number };
  peer: Timing & { rate: number };
  /** peer ms / our ms: > 1 means we are faster (the peer is TF.js WebGPU). */
  ratio: number;
  /** Every peer by name (`tfjs-webgpu`, `ort-wasm`, `ort-webgpu`, `ort-node-cpu`): its rate and
   * ratio (peer ms / our ms, > 1: we are faster). */
  peers: Record<string, { rate: number; ratio: number }>;
  js?: Timing & { rate: number };
  check: string;
  checkOk: boolean;
  /** Untimed extras (model cases): memory high-water marks in bytes. */
  extra?: Record<string, number>;
}

/** GFLOP/s or GB/s (work in FLOPs or bytes), or images per second. */
export const rate = (c: AnyCase, ms: number) =>
  c.unit === 'img/s' || c.unit === 'tokens/s' || c.unit === 'steps/s'
    ? c.work / (ms / 1000)
    : c.work / (ms * 1e6);

/** The row of a case timed against TF.js (the other peers are added by the caller). */
export function makeRow(c: AnyCase, ours: Timing, theirs: Timing, check: string, checkOk: boolean): Row {
  return {
    op: c.op,
    shape: c.shape,
    unit: c.unit,
    work: c.work,
    ours: { ...ours, rate: rate(c, ours.median) },
    peer: { ...theirs, rate: rate(c, theirs.median) },
    ratio: theirs.median / ours.median,
    peers: { 'tfjs-webgpu': { rate: rate(c, theirs.median), ratio: theirs.median / ours.median } },
    check,
    checkOk,
  };
}

/** ", ort-wasm 20.1 ms (0.52x)" for the peers other than TF.js. */
export function otherPeers(row: Row): string {
  return Object.entries(row.peers)
    .filter(([name]) => name !== 'tfjs-webgpu')
    .map(([name, p]) => `, ${name} ${fmt((row.work / p.rate) * 1000)} ms (${p.ratio.toFixed(2)}x)`)
    .join('');
}

/** The printed Markdown table of the rows (also pasted into bench/README.md). */
export function table(rows: Row[]): string {
  const header = [
    'op',
    'shape',
    'ours ms',
    'ours rate',
    'TF.js ms',
    'TF.js rate',
    'TF.js/ours',
    'other peers (peer ms / ours)',
    'JS ms',
    'reps ours/TF.js/JS',
    'check (max abs diff vs TF.js)',
  ];
  const body = rows.map((r) => [
    r.op,
    r.shape,
    fmt(r.ours.median),
    `${fmt(r.ours.rate)} ${r.unit}`,
    fmt(r.peer.median),
    `${fmt(r.peer.rate)} ${r.unit}`,
    `${r.ratio.toFixed(2)}x`,
    otherPeers(r).slice(2).replace(/, /g, '; ') || '-',
    r.js ? fmt(r.js.median, 1) : '-',
    `${r.ours.reps}/${r.peer.reps}/${r.js ? r.js.reps : '-'}`,
    r.check,
  ]);
  return markdownTable(header, body, [0, 1, header.length - 1]);
}

const mib = (b: number | undefined) => (b === undefined ? '-' : (b / 2 ** 20).toFixed(0));

/** Memory of the rows that measured it (scaling series), MiB beyond weights and input. */
export function memoryTable(rows: Row[]): string {
  const header = [
    'op',
    'shape',
    'ours high-water MiB',
    'ours peak MiB',
    'ours live at end MiB',
    'TF.js peak MiB',
  ];
  const body = rows
    .filter((r) => r.extra)
    .map((r) => [
      r.op,
      r.shape,
      mib(r.extra!.oursHighWaterBytes),
      mib(r.extra!.oursPeakBytes),
      mib(r.extra!.oursLiveBytes),
      mib(r.extra!.peerPeakBytes),
    ]);
  return markdownTable(header, body, [0, 1]);
}
