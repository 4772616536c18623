import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../tensor/variable.js';
import { type BindingSpec, defineKernel } from './program.js';
import { tuning } from './tuning.js';
import { chunks, grid, linearIndex, range } from './util.js';

/**
 * In-place optimizer updates: one kernel reads the gradient and updates the variable and its slot
 * variables in a single pass (Keras 3 update formulas). The gradient may be clipped in the same
 * pass (by value, or scaled by a norm held in a 1-element GPU buffer, so no readback), and Keras 3's
 * decoupled weight decay (`w -= w * wd * lr`) runs first in the same pass. Big variables are
 * processed in chunks.
 */

export type UpdateRule =
  | 'sgd'
  | 'momentum'
  | 'nesterov'
  | 'adam'
  | 'amsgrad'
  | 'rmsprop'
  | 'rmsprop_momentum'
  | 'rmsprop_centered'
  | 'rmsprop_centered_momentum'
  | 'adagrad'
  | 'nadam';

const ADAM_MOMENTS = `let m = s1[i] + (gi - s1[i]) * (1.0 - p.a);
  let v = s2[i] + (gi * gi - s2[i]) * (1.0 - p.b);
  s1[i] = m;
  s2[i] = v;`;

/** RMSprop: velocity in s1; with momentum the momentum in s2; centered: the mean gradient in the last slot. */
function rmsprop(momentum: boolean, centered: boolean): string {
  const avg = momentum ? 's3' : 's2';
  const den = centered
    ? `let ag = p.a * ${avg}[i] + (1.0 - p.a) * gi;
  ${avg}[i] = ag;
  let inc = p.lr * gi / sqrt(v - ag * ag + p.eps);`
    : 'let inc = p.lr * gi / sqrt(v + p.eps);';
  const apply = momentum
    ? `let mo = p.b * s2[i] + inc;
  s2[i] = mo;
  w[i] = w[i] - mo;`
    : 'w[i] = w[i] - inc;';
  return `let v = p.a * s1[i] + (1.0 - p.a) * (gi * gi);
  s1[i] = v;
  ${den}
  ${apply}`;
}

/** The update of element (or quad) i from the (clipped) gradient `gi`. */
const body: Record<UpdateRule, string> = {
  sgd: 'w[i] = w[i] - p.lr * gi;',
  momentum: `let m = p.a * s1[i] - p.lr * gi;
  s1[i] = m;
  w[i] = w[i] + m;`,
  nesterov: `let m = p.a * s1[i] - p.lr * gi;
  s1[i] = m;
  w[i] = w[i] + p.a * m - p.lr * gi;`,
  adam: `${ADAM_MOMENTS}
  w[i] = w[i] - p.lr * m / (sqrt(v) + p.eps);`,
  amsgrad: `${ADAM_MOMENTS}
  let vh = max(s3[i], v);
  s3[i] = vh;
  w[i] = w[i] - p.lr * m / (sqrt(vh) + p.eps);`,
  rmsprop: rmsprop(false, false),
  rmsprop_momentum: rmsprop(true, false),
  rmsprop_centered: rmsprop(false, true),
  rmsprop_centered_momentum: rmsprop(true, true),
  adagrad: `let acc = s1[i] + gi * gi;
  s1[i] = acc;
  w[i] = w[i] - p.lr * gi / sqrt(acc + p.eps);`,
  // k1 = u_{t+1}, k2 = 1 - prod_{<=t+1} u, k3 = 1 - u_t, k4 = 1 - prod_{<=t} u, k5 = 1 - beta2^t.
  nadam: `${ADAM_MOMENTS}
  let mh = p.k1 * m / p.k2 + p.k3 * gi / p.k4;
  let vh = v / p.k5;
  w[i] = w[i] - mh * p.lr / (sqrt(vh) + p.eps);`,
};

/** Slot variables each rule reads and writes, in binding order s1, s2, s3. */
export const RULE_SLOTS: Readonly<Record<UpdateRule, number>> = {
  sgd: 0,
  momentum: 1,
  nesterov: 1,
  adam: 2,
  amsgrad: 3,
  rmsprop: 1,
  rmsprop_momentum: 2,
  rmsprop_centered: 2,
  rmsprop_centered_momentum: 3,
  adagrad: 1,
  nadam: 2,
};

/**
 * How the gradient is clipped inside the kernel: 'norm' reads the clip norm's denominator
 * max(||g||, c) from the 1-element buffer `cs` (g * c / d, as Keras' clip_by_norm), 'global' reads
 * the global-norm scale (g * s), 'value' clamps to [-c, c].
 */
export type ClipMode = 'none' | 'norm' | 'global' | 'value';

interface Consts {
  rule: UpdateRule;
  clip: ClipMode;
  decay: boolean;
  [k: string]: string | boolean;
}

/** vec4 quads per invocation in the quad kernel (as the elementwise kernels: 4 measured best). */
const UNITS = 4;

/** Bindings w, g, the rule's slots and the clip buffer: vec4f quads or f32 elements. */
function bindings(c: Consts, T: 'vec4f' | 'f32'): Record<string, BindingSpec | undefined> {
  const n = RULE_SLOTS[c.rule];
  const clipBuf = c.clip === 'norm' || c.clip === 'global';
  return {
    w: `rw ${T}`,
    g: `read ${T}`,
    s1: n >= 1 ? `rw ${T}` : undefined,
    s2: n >= 2 ? `rw ${T}` : undefined,
    s3: n >= 3 ? `rw ${T}` : undefined,
    cs: clipBuf ? 'read f32' : undefined,
  };
}

/** The statements before the rule: the clipped gradient `gi` and the weight decay. */
function prelude(c: Consts, T: 'vec4f' | 'f32'): string {
  const g = {
    none: 'g[i]',
    norm: 'g[i] * p.cv / cs[0]',
    global: 'g[i] * cs[0]',
    value: `clamp(g[i], ${T}(-p.cv), ${T}(p.cv))`,
  }[c.clip];
  const decay = c.decay ? '\n  w[i] = w[i] - w[i] * p.wd * p.lr0;' : '';
  return `let gi = ${g};${decay}\n  ${body[c.rule]}`;
}

const UNIFORMS = {
  n: 'u32',
  lr: 'f32',
  a: 'f32',
  b: 'f32',
  eps: 'f32',
  wd: 'f32',
  lr0: 'f32',
  cv: 'f32',
  k1: 'f32',
  k2: 'f32',
  k3: 'f32',
  k4: 'f32',
  k5: 'f32',
} as const;

/** The update kernel: one invocation per element. */
const update = defineKernel({
  name: 'update',
  bindings: (c: Consts) => bindings(c, 'f32'),
  uniforms: UNIFORMS,
  index: { total: 'n' },
  body: (c) => `  ${prelude(c, 'f32')}`,
});

/**
 * The quad update kernel, for a variable's size a multiple of 4: every array is read as vec4 and
 * each invocation updates UNITS consecutive quads: the same formulas (scalars broadcast), about a
 * quarter of the per-lane loads and stores.
 */
const updateQuad = defineKernel({
  name: 'update_quad',
  bindings: (c: Consts) => bindings(c, 'vec4f'),
  uniforms: UNIFORMS,
  body: (c) => `  let i0 = ${linearIndex()} * ${UNITS}u;
  for (var i = i0; i < min(i0 + ${UNITS}u, p.n); i++) {
    ${prelude(c, 'vec4f').replaceAll('\n', '\n  ')}
  }`,
});

/** Clamp each gradient element to [-value, value]. */
export interface ClipByValue {
  /** 'value'. */
  mode: 'value';
  /** The bound. */
  value: number;
}

/** Scale the gradient by value / denom (Keras clip_by_norm). */
export interface ClipByNorm {
  /** 'norm'. */
  mode: 'norm';
  /** The clip norm. */
  value: number;
  /** max(||g||, value), a 1-element tensor computed on the GPU. */
  denom: Tensor;
}

/** Scale every gradient by one factor (Keras clip_by_global_norm). */
export interface ClipByGlobalNorm {
  /** 'global'. */
  mode: 'global';
  /** The factor, a 1-element tensor computed on the GPU. */
  scale: Tensor;
}

/** Gradient clipping fused into the update kernel. */
export type GradientClip = ClipByValue | ClipByNorm | ClipByGlobalNorm;

export interface UpdateParams {
  /** Step size (Adam: the bias-corrected alpha). */
  lr: number;
  /** momentum, Adam's / Nadam's beta1, RMSprop's rho. */
  a?: number;
  /** Adam's / Nadam's beta2, RMSprop's momentum. */
  b?: number;
  /** Added to the denominator. */
  eps?: number;
  /** Decoupled weight decay (with `lr0`, the step's learning rate); 0 or undefined: none. */
  weightDecay?: number;
  /** The learning rate the weight decay is scaled by. */
  lr0?: number;
  /** Nadam's coefficients k1..k5 (see the kernel). */
  k?: readonly [number, number, number, number, number];
  /** Gradient clipping: by value, or by a norm-derived scalar in a 1-element tensor (see ClipMode). */
  clip?: GradientClip;
}

/** Updates `w` in place from `grad`, using and updating `slotVars` (velocity, moments...). */
export function applyUpdate(
  rule: UpdateRule,
  w: Variable,
  grad: Tensor,
  slotVars: Variable[],
  p: UpdateParams,
): void {
  const need = RULE_SLOTS[rule];
  if (need === undefined) throw new ArgumentError(`applyUpdate: unknown rule ${JSON.stringify(rule)}`);
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
  const clip = p.clip ?? { mode: 'none' as const };
  const clipBuf = clip.mode === 'norm' ? clip.denom : clip.mode === 'global' ? clip.scale : undefined;
  if (clipBuf && clipBuf.size !== 1)
    throw new ShapeError(
      `applyUpdate(${rule}): the clip tensor must have 1 element, got ${fmtShape(clipBuf.shape)}`,
    );
  const decay = (p.weightDecay ?? 0) !== 0;
  const k = p.k ?? [0, 0, 0, 0, 0];
  // Chunk starts are multiples of 64 elements, so with size % 4 == 0 every chunk is whole quads.
  const quad = w.size % 4 === 0;
  const bind = (t: Tensor | undefined, start: number, n: number) => (t ? range(t, start, n) : undefined);
  for (const [start, n] of chunks(w.size, tuning().updateChunkLimit)) {
    const lanes = quad ? Math.ceil(n / 4 / UNITS) : n;
    (quad ? updateQuad : update).run({
      constants: { rule, clip: clip.mode, decay },
      buffers: {
        w: bind(w, start, n),
        g: bind(grad, start, n),
        s1: bind(slotVars[0], start, n),
        s2: bind(slotVars[1], start, n),
        s3: bind(slotVars[2], start, n),
        cs: clipBuf,
      },
      uniforms: {
        n: quad ? n / 4 : n,
        lr: p.lr,
        a: p.a ?? 0,
        b: p.b ?? 0,
        eps: p.eps ?? 0,
        wd: p.weightDecay ?? 0,
        lr0: p.lr0 ?? p.lr,
        cv: clip.mode === 'value' || clip.mode === 'norm' ? clip.value : 0,
        k1: k[0],
        k2: k[1],
        k3: k[2],
        k4: k[3],
        k5: k[4],
      },
      workgroups: grid(lanes),
    });
  }
}
