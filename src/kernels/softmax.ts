import { ShapeError } from '../tensor/errors.js';
import { ParamWriter, runKernel } from '../tensor/queue.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxis } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { cpuAdapter } from './reduce.js';
import { assertBindable, assertDTypeIn, assertTensor, grid, linearIndex, whole } from './util.js';

/**
 * softmax / logSoftmax along any axis, numerically stable: with m the row maximum,
 * softmax = exp(x - m) / sum(exp(x - m)) and logSoftmax = (x - m) - log(sum(exp(x - m))), so no
 * exp() overflows and the sum is at least 1.
 *
 * The tensor is viewed as [outer, L, inner]; a row is the L elements at a fixed (outer, inner),
 * `inner` apart. Most rows get one invocation each (neighbouring lanes read neighbouring addresses
 * when inner > 1); few long rows get a workgroup each (max, sum and write loops strided over the
 * lanes, combined in workgroup memory).
 */

type Kind = 'softmax' | 'logSoftmax';

interface Cfg {
  kind: Kind;
  /** inner = 1: rows are contiguous; baked because it is the common case. */
  last: boolean;
  tree: boolean;
  wg: number;
}

function result(kind: Kind): string {
  return kind === 'softmax' ? 'exp(x[base + k * I] - mx) * inv' : '(x[base + k * I] - mx) - ls';
}

function source(c: Cfg): string {
  const head = `struct P { rows: u32, L: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
fn rowBase(row: u32) -> u32 { return ${c.last ? 'row * p.L' : '(row / p.inner) * p.L * p.inner + row % p.inner'}; }`;
  const vars = `let L = p.L;\n  let I = ${c.last ? '1u' : 'p.inner'};`;
  const finish = c.kind === 'softmax' ? 'let inv = 1.0 / s;' : 'let ls = log(s);';
  if (!c.tree) {
    return `${head}
@compute @workgroup_size(${c.wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = ${linearIndex(c.wg)};
  if (row >= p.rows) { return; }
  ${vars}
  let base = rowBase(row);
  var mx = x[base];
  for (var k = 1u; k < L; k++) { mx = max(mx, x[base + k * I]); }
  var s = 0.0;
  for (var k = 0u; k < L; k++) { s += exp(x[base + k * I] - mx); }
  ${finish}
  for (var k = 0u; k < L; k++) { out[base + k * I] = ${result(c.kind)}; }
}`;
  }
  const tree = (op: string) => `red[lid] = v;
  workgroupBarrier();
  for (var h = ${c.wg / 2}u; h > 0u; h = h >> 1u) {
    if (lid < h) { red[lid] = ${op}; }
    workgroupBarrier();
  }`;
  return `${head}
var<workgroup> red: array<f32, ${c.wg}>;
@compute @workgroup_size(${c.wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  ${vars}
  let base = rowBase(row);
  var v = x[base + min(lid, L - 1u) * I];
  for (var k = lid + ${c.wg}u; k < L; k += ${c.wg}u) { v = max(v, x[base + k * I]); }
  ${tree('max(red[lid], red[lid + h])')}
  let mx = red[0];
  workgroupBarrier();
  v = 0.0;
  for (var k = lid; k < L; k += ${c.wg}u) { v += exp(x[base + k * I] - mx); }
  ${tree('red[lid] + red[lid + h]')}
  let s = red[0];
  ${finish}
  for (var k = lid; k < L; k += ${c.wg}u) { out[base + k * I] = ${result(c.kind)}; }
}`;
}

function run(kind: Kind, logits: Tensor, axis: number): Tensor {
  assertTensor(logits, kind, 'logits');
  assertDTypeIn(logits, ['float32'], kind, 'logits');
  if (logits.rank === 0) {
    throw new ShapeError(`${kind}: logits must have rank >= 1, got shape [] (a scalar)`);
  }
  const a = normalizeAxis(axis, logits.rank, kind);
  if (logits.size === 0) return recordOp(kind, [logits], emptyTensor(logits.shape, 'float32'), { axis: a });
  assertBindable(logits, kind, 'logits');
  const out = emptyTensor(logits.shape, 'float32');
  const L = logits.shape[a];
  const inner = logits.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const rows = logits.size / L;
  // GPU: a workgroup per row (coalesced reads) unless rows are short, or strided and plenty.
  // CPU (lavapipe): lane mode measured faster down to ~16 rows, since each barrier switches between
  // the workgroup's 8-lane batches; lane workgroups shrink to 8 so few rows still spread over
  // threads.
  const cpu = cpuAdapter();
  const tree = cpu ? rows < 64 && L > 4096 : L >= 64 && (inner === 1 || rows < 4096);
  const wg = tree ? (!cpu && L >= 2048 ? 256 : 64) : cpu && rows < 512 ? 8 : 64;
  const c: Cfg = { kind, last: inner === 1, tree, wg };
  runKernel({
    key: `${kind}_${tree ? 'tree' : 'lane'}${wg}_${inner === 1}`,
    source: () => source(c),
    buffers: [whole(logits), whole(out)],
    params: new ParamWriter().u32(rows).u32(L).u32(inner).done(),
    workgroups: tree ? grid(rows, 1) : grid(rows, wg),
  });
  return recordOp(kind, [logits], out, { axis: a });
}

/** exp(logits) normalized along `axis` (default -1), float32, stable for large |logits|. */
export function softmax(logits: Tensor, axis = -1): Tensor {
  return run('softmax', logits, axis);
}

/** log(softmax(logits)) along `axis` (default -1), computed as logits - max - log(sum(exp(...))). */
export function logSoftmax(logits: Tensor, axis = -1): Tensor {
  return run('logSoftmax', logits, axis);
}
