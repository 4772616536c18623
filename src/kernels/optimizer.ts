import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../tensor/variable.js';
import { type BindingSpec, defineKernel } from './program.js';
import { tuning } from './tuning.js';
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

/** Bindings w, g and the rule's slots s1, s2: vec4f quads or f32 elements. */
function bindings(
  rule: UpdateRule,
  T: 'vec4f' | 'f32',
): Partial<Record<'w' | 'g' | 's1' | 's2', BindingSpec>> {
  const n = slots[rule];
  return {
    w: `rw ${T}`,
    g: `read ${T}`,
    s1: n >= 1 ? `rw ${T}` : undefined,
    s2: n >= 2 ? `rw ${T}` : undefined,
  };
}

const UNIFORMS = { n: 'u32', lr: 'f32', a: 'f32', b: 'f32', eps: 'f32' } as const;

/** The update kernel: one invocation per element. */
const update = defineKernel({
  name: 'update',
  bindings: (c: { rule: UpdateRule }) => bindings(c.rule, 'f32'),
  uniforms: UNIFORMS,
  index: { total: 'n' },
  body: (c) => `  ${body[c.rule]}`,
});

/**
 * The quad update kernel, for a variable's size a multiple of 4: every array is read as vec4 and
 * each invocation updates UNITS consecutive quads: the same formulas (scalars broadcast), about a
 * quarter of the per-lane loads and stores.
 */
const updateQuad = defineKernel({
  name: 'update_quad',
  bindings: (c: { rule: UpdateRule }) => bindings(c.rule, 'vec4f'),
  uniforms: UNIFORMS,
  body: (c) => `  let i0 = ${linearIndex()} * ${UNITS}u;
  for (var i = i0; i < min(i0 + ${UNITS}u, p.n); i++) {
    ${body[c.rule].replaceAll('\n', '\n  ')}
  }`,
});

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
  const bind = (t: Tensor | undefined, start: number, n: number) => (t ? range(t, start, n) : undefined);
  for (const [start, n] of chunks(w.size, tuning().updateChunkLimit)) {
    const lanes = quad ? Math.ceil(n / 4 / UNITS) : n;
    (quad ? updateQuad : update).run({
      constants: { rule },
      buffers: {
        w: bind(w, start, n),
        g: bind(grad, start, n),
        s1: bind(slotVars[0], start, n),
        s2: bind(slotVars[1], start, n),
      },
      uniforms: { n: quad ? n / 4 : n, lr: p.lr, a: p.a ?? 0, b: p.b ?? 0, eps: p.eps ?? 0 },
      workgroups: grid(lanes),
    });
  }
}
