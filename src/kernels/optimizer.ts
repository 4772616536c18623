import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { ParamWriter, runKernel } from '../tensor/queue.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../tensor/variable.js';
import { chunks, grid, linearIndex, range } from './util.js';

/**
 * In-place optimizer updates: one kernel reads the gradient and updates the variable and its slot
 * variables in a single pass (Keras 3 update formulas). Big variables are processed in chunks.
 */

export type UpdateRule = 'sgd' | 'momentum' | 'nesterov' | 'adam';

const body: Record<UpdateRule, string> = {
  sgd: 'w[i] = w[i] - p.lr * g[i];',
  momentum: `let m = p.a * s1[i] - p.lr * g[i];
  s1[i] = m;
  w[i] = w[i] + m;`,
  nesterov: `let m = p.a * s1[i] - p.lr * g[i];
  s1[i] = m;
  w[i] = w[i] + p.a * m - p.lr * g[i];`,
  adam: `let gi = g[i];
  let m = s1[i] + (gi - s1[i]) * (1.0 - p.a);
  let v = s2[i] + (gi * gi - s2[i]) * (1.0 - p.b);
  s1[i] = m;
  s2[i] = v;
  w[i] = w[i] - p.lr * m / (sqrt(v) + p.eps);`,
};

const slots: Record<UpdateRule, number> = { sgd: 0, momentum: 1, nesterov: 1, adam: 2 };

/** vec4 quads per invocation in the quad kernel (as the elementwise kernels: 4 measured best). */
const UNITS = 4;

/**
 * The update kernel. With `quad` (the variable's size a multiple of 4) every array is read as
 * vec4 and each invocation updates UNITS consecutive quads: the same formulas (scalars broadcast),
 * about a quarter of the per-lane loads and stores.
 */
const source = (rule: UpdateRule, quad: boolean) => {
  const n = slots[rule];
  const T = quad ? 'vec4f' : 'f32';
  const decl = ['w', 'g', 's1', 's2']
    .slice(0, 2 + n)
    .map(
      (name, b) =>
        `@group(0) @binding(${b}) var<storage, ${name === 'g' ? 'read' : 'read_write'}> ${name}: array<${T}>;`,
    )
    .join('\n');
  const main = quad
    ? `  let i0 = ${linearIndex()} * ${UNITS}u;
  for (var i = i0; i < min(i0 + ${UNITS}u, p.n); i++) {
    ${body[rule].replaceAll('\n', '\n  ')}
  }`
    : `  let i = ${linearIndex()};
  if (i >= p.n) { return; }
  ${body[rule]}`;
  return `
struct P { n: u32, lr: f32, a: f32, b: f32, eps: f32 }
${decl}
@group(0) @binding(${2 + n}) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
${main}
}`;
};

let chunkLimit: number | undefined;
/** @internal Tests: pretend the binding limit is `elems` elements (undefined: the adapter's). */
export function setUpdateChunkLimit(elems: number | undefined): void {
  chunkLimit = elems;
}

export interface UpdateParams {
  /** Learning rate (Adam: already bias-corrected lr_t). */
  lr: number;
  /** momentum, or Adam's beta1. */
  a?: number;
  /** Adam's beta2. */
  b?: number;
  eps?: number;
}

/** Updates `w` in place from `grad`, using and updating `slotVars` (velocity, or Adam's m and v). */
export function applyUpdate(
  rule: UpdateRule,
  w: Variable,
  grad: Tensor,
  slotVars: Variable[],
  p: UpdateParams,
): void {
  const need = slots[rule];
  if (slotVars.length !== need) {
    throw new ArgumentError(`applyUpdate(${rule}): expected ${need} slot variables, got ${slotVars.length}`);
  }
  for (const t of [grad, ...slotVars]) {
    t.assertAlive(`applyUpdate(${rule})`);
    if (!shapesEqual(t.shape, w.shape)) {
      throw new ShapeError(
        `optimizer: gradient/slot of shape ${fmtShape(t.shape)} does not match variable '${w.name}' of shape ${fmtShape(w.shape)}`,
      );
    }
  }
  // Chunk starts are multiples of 64 elements, so with size % 4 == 0 every chunk is whole quads.
  const quad = w.size % 4 === 0;
  for (const [start, n] of chunks(w.size, chunkLimit)) {
    const lanes = quad ? Math.ceil(n / 4 / UNITS) : n;
    runKernel({
      key: `update_${rule}${quad ? '_quad' : ''}`,
      source: () => source(rule, quad),
      buffers: [w, grad, ...slotVars].map((t) => range(t, start, n)),
      params: new ParamWriter()
        .u32(quad ? n / 4 : n)
        .f32(p.lr)
        .f32(p.a ?? 0)
        .f32(p.b ?? 0)
        .f32(p.eps ?? 0)
        .done(),
      workgroups: grid(lanes),
    });
  }
}
