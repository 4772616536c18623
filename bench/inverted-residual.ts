import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  add,
  conv2d,
  depthwiseConv2d,
  deviceInfo,
  getDevice,
  sync,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import {
  blockWeights,
  invertedResidualBlock,
  invertedResidualTile,
} from '../src/kernels/inverted-residual.js';
import { fmt, markdownTable, maxAbsDiff, measureSides, type Side, seededUniform } from './harness.js';

/**
 * One MobileNetV2 inverted-residual block (stride 1, folded batch norms) at batch 64 of a 192x192
 * input: the fused kernel (src/kernels/inverted-residual.ts, one dispatch) against the unfused
 * path that graph fusion runs (expand conv + bias + ReLU6, depthwise + bias + ReLU6, project conv
 * + bias, then the residual add: 3 or 4 dispatches). Bytes moved are computed from the tensors each
 * path reads and writes (float32): "min" counts every tensor once (what a cache-perfect device
 * moves to and from memory); "per-workgroup" counts what the fused kernel's workgroups fetch
 * without reuse between them (x with the tile halo, all three weights per workgroup). Prints a
 * Markdown table, writes bench/results/inverted-residual.json.
 *
 *   npx tsx bench/inverted-residual.ts [batch] [reps]
 */

const BLOCKS: Array<{ name: string; hw: number; cin: number; e: number; cout: number; residual: boolean }> = [
  { name: 'block 2', hw: 48, cin: 24, e: 144, cout: 24, residual: true },
  { name: 'block 5', hw: 24, cin: 32, e: 192, cout: 32, residual: true },
  { name: 'block 12', hw: 12, cin: 96, e: 576, cout: 96, residual: true },
  { name: 'block 15', hw: 6, cin: 160, e: 960, cout: 160, residual: true },
];

const batch = Number(process.argv[2] ?? 64);
const reps = Number(process.argv[3] ?? 3);
const MB = 1e6;

await getDevice();
const rows: string[][] = [];
const json: Record<string, unknown>[] = [];
const load0 = loadavg()[0];
for (const b of BLOCKS) {
  const { hw, cin, e, cout } = b;
  const px = batch * hw * hw;
  const seed = hw + e;
  const T = (s: number[], k: number, scale: number, shift = 0) =>
    tensor(
      seededUniform(
        s.reduce((a, c) => a * c, 1),
        seed + k,
      ).map((v) => v * scale + shift),
      s,
    );
  const x = T([batch, hw, hw, cin], 1, 1);
  const we = T([1, 1, cin, e], 2, 2 / Math.sqrt(cin));
  const be = T([e], 3, 1, 1);
  const wd = T([3, 3, e, 1], 4, 0.5);
  const bd = T([e], 5, 1, 1);
  const wp = T([1, 1, e, cout], 6, 2 / Math.sqrt(e));
  const bp = T([cout], 7, 1);
  const unfused = () =>
    tidy(() => {
      const h = conv2d(x, we, 1, 'same', { bias: be, activation: 'relu6' });
      const d = depthwiseConv2d(h, wd, 1, 'same', { bias: bd, activation: 'relu6' });
      const p = conv2d(d, wp, 1, 'same', { bias: bp });
      return b.residual ? add(p, x) : p;
    });
  const fused = () =>
    tidy(() =>
      invertedResidualBlock(
        x,
        blockWeights({ filter: we, bias: be }, { filter: wd, bias: bd }, { filter: wp, bias: bp }),
        { residual: b.residual },
      ),
    );
  const [ya, yb] = [unfused(), fused()];
  const diff = maxAbsDiff(await ya.data(), await yb.data());
  ya.dispose();
  yb.dispose();
  const side = (f: () => Tensor): Side<unknown> => ({
    run: async () => {
      const y = f();
      await sync();
      return y;
    },
    cleanup: (y) => (y as Tensor).dispose(),
  });
  const [tu, tf] = await measureSides([side(unfused), side(fused)], { warmup: 1, reps });
  // Bytes: activations and weights, float32.
  const w = cin * e + e + 9 * e + e + e * cout + cout;
  const act = { x: px * cin, ex: px * e, y: px * cout };
  // Unfused: expand reads x and writes ex, the depthwise reads ex and writes ex', the project
  // reads ex' and writes p; the add reads p and x and writes y. Fused, at least: x, weights, y.
  const addBytes = b.residual ? act.y + act.x + act.y : 0;
  const unfusedBytes = 4 * (act.x + 4 * act.ex + act.y + w + addBytes);
  const fusedBytes = 4 * (act.x + act.y + w);
  const k = invertedResidualTile(hw, hw, cin, e, cout, 16384);
  const tiles = batch * Math.ceil(hw / k.th) * Math.ceil(hw / k.tw);
  const perWg = 4 * (tiles * ((k.th + 2) * (k.tw + 2) * cin + w) + act.y + (b.residual ? act.y : 0));
  const row = {
    block: b.name,
    shape: `${batch}x${hw}x${hw}, ${cin}->${e}->${cout}${b.residual ? ' +x' : ''}`,
    unfusedMB: unfusedBytes / MB,
    fusedMinMB: fusedBytes / MB,
    fusedPerWorkgroupMB: perWg / MB,
    unfusedMs: tu.median,
    fusedMs: tf.median,
    maxAbsDiff: diff,
    unfusedSamples: tu.samples,
    fusedSamples: tf.samples,
  };
  json.push(row);
  rows.push([
    row.block,
    row.shape,
    fmt(row.unfusedMB, 1),
    fmt(row.fusedMinMB, 1),
    fmt(row.fusedPerWorkgroupMB, 1),
    fmt(row.unfusedMs, 1),
    fmt(row.fusedMs, 1),
    fmt(row.fusedMs / row.unfusedMs, 2),
    diff.toExponential(1),
  ]);
  for (const t of [x, we, be, wd, bd, wp, bp]) t.dispose();
  console.log(`${b.name}: unfused ${fmt(tu.median, 1)} ms, fused ${fmt(tf.median, 1)} ms`);
}
const info = deviceInfo();
const header = [
  'block',
  'shape',
  'unfused MB',
  'fused MB (min)',
  'fused MB (per wg)',
  'unfused ms',
  'fused ms',
  'fused / unfused',
  'max |diff|',
];
console.log(`\n${info.description}; load average ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}\n`);
console.log(markdownTable(header, rows));
const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, 'inverted-residual.json'),
  JSON.stringify(
    { device: info, date: new Date().toISOString(), batch, reps, loadavg: [load0, loadavg()[0]], rows: json },
    null,
    2,
  ),
);
