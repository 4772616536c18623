import { fill } from '../tensor/creation.js';
import { popScope, pushScope, type Tracked } from '../tensor/engine.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { type OpRecord, setRecorder } from '../tensor/record.js';
import { shapesEqual } from '../tensor/shape.js';
import { copyOf, nextTensorId, Tensor } from '../tensor/tensor.js';
import { type GradRule, getGradient, isNonDifferentiable } from './registry.js';
import { addN } from './rules/accumulate.js';

/**
 * Reverse-mode autodiff: run `f` while recording every op, then walk the records backwards,
 * calling each op's backward rule. Intermediate tensors of `f` are disposed as soon as no
 * remaining backward rule needs them; everything else `f` created is disposed at the end.
 */

export interface ValueAndGrads {
  value: Tensor;
  grads: Tensor[];
}

function isFloat(t: Tensor): boolean {
  return t.dtype === 'float32';
}

export function valueAndGradsImpl(
  f: () => Tensor,
  xs: readonly Tensor[],
  dy?: Tensor,
  fn = 'grads',
): ValueAndGrads {
  xs.forEach((x, i) => {
    if (!(x instanceof Tensor)) throw new ArgumentError(`${fn}: xs[${i}] must be a Tensor, got ${typeof x}`);
    x.assertAlive(`${fn}: xs[${i}]`);
    if (!isFloat(x))
      throw new DTypeError(`${fn}: xs[${i}] must be float32 to have a gradient, got ${x.dtype}`);
  });
  const records: OpRecord[] = [];
  const firstId = nextTensorId();
  pushScope();
  const keepAtEnd = new Set<Tracked>();
  let value: Tensor;
  // Only ops downstream of some x are recorded: the rest (a frozen base network, say) cannot carry
  // a gradient, and not recording them lets their intermediates be freed while f still runs.
  const dependsOnX = new Set<Tensor>(xs);
  const held = new Set<Tensor>();
  const prev = setRecorder({
    record(r) {
      if (!isFloat(r.output) || !r.inputs.some((t) => dependsOnX.has(t))) return;
      dependsOnX.add(r.output);
      for (const t of r.inputs) held.add(t);
      held.add(r.output);
      records.push(r);
    },
    dependsOnWatched: (t) => dependsOnX.has(t),
    holds: (t) => held.has(t),
  });
  try {
    value = f();
  } catch (e) {
    setRecorder(prev);
    popScope(new Set());
    throw e;
  }
  setRecorder(prev);
  try {
    if (!(value instanceof Tensor))
      throw new ArgumentError(`${fn}: f must return a Tensor, got ${typeof value}`);
    if (!isFloat(value)) throw new DTypeError(`${fn}: f must return a float32 tensor, got ${value.dtype}`);
    if (dy) {
      if (!(dy instanceof Tensor) || !shapesEqual(dy.shape, value.shape)) {
        throw new ShapeError(
          `${fn}: dy must have the shape of f's result ${fmtShape(value.shape)}, got ${dy instanceof Tensor ? fmtShape(dy.shape) : typeof dy}`,
        );
      }
    } else if (value.size !== 1) {
      throw new ShapeError(`${fn}: f must return a scalar (or pass dy), got shape ${fmtShape(value.shape)}`);
    }
    keepAtEnd.add(value);
    const grads = backward(records, dependsOnX, xs, value, dy, firstId, fn);
    for (const g of grads) keepAtEnd.add(g);
    return { value, grads };
  } finally {
    popScope(keepAtEnd);
  }
}

/**
 * `relevant`: the recorded ops, each downstream of some x (the recorder keeps no others);
 * `dependsOnX`: the tensors that depend on some x, xs included.
 */
function backward(
  relevant: OpRecord[],
  dependsOnX: ReadonlySet<Tensor>,
  xs: readonly Tensor[],
  y: Tensor,
  dy: Tensor | undefined,
  firstId: number,
  fn: string,
): Tensor[] {
  // Last backward use of each tensor (in reverse order = smallest forward index).
  const lastUse = new Map<Tensor, number>();
  relevant.forEach((r, i) => {
    for (const t of [...r.inputs, r.output]) if (!lastUse.has(t)) lastUse.set(t, i);
  });
  const protectedSet = new Set<Tensor>([...xs, y]);
  // Only tensors created while f ran may be freed early (ids are increasing).
  const ownedByF = (t: Tensor) => t.id >= firstId && !protectedSet.has(t) && !t.kept;

  // Gradients by tensor, with a count of how many entries share each gradient tensor
  // (a rule may pass dy through unchanged, or return one tensor for two inputs).
  const grads = new Map<Tensor, Tensor>();
  const holders = new Map<Tensor, number>();
  const hold = (t: Tensor, g: Tensor) => {
    grads.set(t, g);
    holders.set(g, (holders.get(g) ?? 0) + 1);
  };
  const disposeIfFree = (g: Tensor) => {
    if ((holders.get(g) ?? 0) === 0 && g !== dy) {
      holders.delete(g);
      g.dispose();
    }
  };
  const release = (t: Tensor) => {
    const g = grads.get(t);
    if (!g) return;
    grads.delete(t);
    holders.set(g, holders.get(g)! - 1);
    disposeIfFree(g);
  };
  hold(y, dy ?? fill(y.shape, 1));

  for (let i = relevant.length - 1; i >= 0; i--) {
    const r = relevant[i];
    const g = grads.get(r.output);
    if (g) {
      const rule = getGradient(r.op);
      if (!rule) {
        throw new ArgumentError(
          isNonDifferentiable(r.op)
            ? `${fn}: op '${r.op}' is not differentiable, but the result depends on it`
            : `${fn}: no gradient registered for op '${r.op}'`,
        );
      }
      const needed = r.inputs.map((t) => dependsOnX.has(t) && isFloat(t));
      const inGrads = runRule(rule, g, r, needed);
      r.inputs.forEach((t, k) => {
        const gk = inGrads[k];
        if (!gk || !needed[k]) return;
        if (!shapesEqual(gk.shape, t.shape)) {
          throw new ShapeError(
            `${fn}: backward rule of '${r.op}' returned a gradient of shape ${fmtShape(gk.shape)} for input ${k} of shape ${fmtShape(t.shape)}`,
          );
        }
        const prevG = grads.get(t);
        if (prevG) {
          const sum = addN(prevG, gk);
          release(t);
          hold(t, sum);
        } else {
          hold(t, gk);
        }
      });
      // The output's gradient has been pushed to the inputs; free it and unused rule results.
      if (!protectedSet.has(r.output)) release(r.output);
      for (const gk of inGrads) if (gk && gk !== g && !gk.isDisposed) disposeIfFree(gk);
    }
    // Free forward tensors that no remaining rule needs.
    for (const t of [...r.inputs, r.output]) {
      if (lastUse.get(t) === i && ownedByF(t)) t.dispose();
    }
  }
  const out = xs.map((x) => {
    const g = grads.get(x);
    if (!g) return fill(x.shape, 0);
    // Hand out a tensor nobody else holds.
    if (g === dy || holders.get(g)! > 1) return copyOf(g);
    grads.delete(x);
    holders.delete(g);
    return g;
  });
  for (const t of [...grads.keys()]) release(t);
  return out;
}

/** Runs a rule in its own scope so its temporaries are freed right away. */
function runRule(rule: GradRule, g: Tensor, r: OpRecord, needed: boolean[]): Array<Tensor | null> {
  pushScope();
  let out: Array<Tensor | null> = [];
  try {
    out = rule(g, r, needed);
  } finally {
    popScope(new Set(out.filter((t): t is Tensor => t instanceof Tensor)));
  }
  return out;
}
