import { ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxis } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import { cpuTuned } from './tuning.js';
import { assertBindable, assertDTypeIn, assertTensor, grid } from './util.js';

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

/** What a softmax kernel bakes in. */
type Cfg = {
  kind: Kind;
  /** inner = 1: rows are contiguous; baked because it is the common case. */
  last: boolean;
  wg: number;
};

function result(kind: Kind): string {
  return kind === 'softmax' ? 'exp(x[base + k * I] - mx) * inv' : '(x[base + k * I] - mx) - ls';
}

const rowBase = (c: Cfg) =>
  `fn rowBase(row: u32) -> u32 { return ${c.last ? 'row * p.L' : '(row / p.inner) * p.L * p.inner + row % p.inner'}; }`;
const vars = (c: Cfg) => `let L = p.L;\n  let I = ${c.last ? '1u' : 'p.inner'};`;
const finish = (c: Cfg) => (c.kind === 'softmax' ? 'let inv = 1.0 / s;' : 'let ls = log(s);');

/** An invocation per row. */
const laneKernel = defineKernel<Cfg, 'x' | 'out', 'rows' | 'L' | 'inner'>({
  name: 'softmax_lane',
  bindings: { x: 'read f32', out: 'rw f32' },
  uniforms: { rows: 'u32', L: 'u32', inner: 'u32' },
  workgroupSize: (c) => c.wg,
  index: { total: 'rows', name: 'row' },
  helpers: rowBase,
  body: (c) => `  ${vars(c)}
  let base = rowBase(row);
  var mx = x[base];
  for (var k = 1u; k < L; k++) { mx = max(mx, x[base + k * I]); }
  var s = 0.0;
  for (var k = 0u; k < L; k++) { s += exp(x[base + k * I] - mx); }
  ${finish(c)}
  for (var k = 0u; k < L; k++) { out[base + k * I] = ${result(c.kind)}; }`,
});

/** A workgroup per row: max, sum and write loops strided over the lanes. */
const treeKernel = defineKernel<Cfg, 'x' | 'out', 'rows' | 'L' | 'inner'>({
  name: 'softmax_tree',
  bindings: { x: 'read f32', out: 'rw f32' },
  uniforms: { rows: 'u32', L: 'u32', inner: 'u32' },
  workgroupSize: (c) => c.wg,
  builtins: ['wid', 'nwg', 'lid'],
  helpers: (c) => `${rowBase(c)}
var<workgroup> red: array<f32, ${c.wg}>;`,
  body: (c) => {
    const tree = (op: string) => `red[lid] = v;
  workgroupBarrier();
  for (var h = ${c.wg / 2}u; h > 0u; h = h >> 1u) {
    if (lid < h) { red[lid] = ${op}; }
    workgroupBarrier();
  }`;
    return `  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  ${vars(c)}
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
  ${finish(c)}
  for (var k = lid; k < L; k += ${c.wg}u) { out[base + k * I] = ${result(c.kind)}; }`;
  },
});

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
  const cpu = cpuTuned('reduce');
  const tree = cpu ? rows < 64 && L > 4096 : L >= 64 && (inner === 1 || rows < 4096);
  const wg = tree ? (!cpu && L >= 2048 ? 256 : 64) : cpu && rows < 512 ? 8 : 64;
  (tree ? treeKernel : laneKernel).run({
    constants: { kind, last: inner === 1, wg },
    buffers: { x: logits, out },
    uniforms: { rows, L, inner },
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
