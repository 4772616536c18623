import { ArgumentError } from '../tensor/errors.js';
import type { OpRecord } from '../tensor/record.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Backward rules by op name. A rule is a small pure function of the output gradient and what the
 * forward op recorded; it is built from the same public ops and knows nothing about the tape.
 * It returns one gradient (or null) per input; `needed[i]` says whether input i wants one, so a
 * rule may skip work (returning null) for inputs that do not.
 */
export type GradRule = (dy: Tensor, rec: OpRecord, needed: readonly boolean[]) => Array<Tensor | null>;

const rules = new Map<string, GradRule>();

export function registerGradient(op: string, rule: GradRule): void {
  if (typeof op !== 'string' || op === '')
    throw new ArgumentError(`registerGradient: op must be a non-empty string, got ${JSON.stringify(op)}`);
  if (typeof rule !== 'function')
    throw new ArgumentError(`registerGradient: rule for '${op}' must be a function, got ${typeof rule}`);
  rules.set(op, rule);
}

export function getGradient(op: string): GradRule | undefined {
  return rules.get(op);
}

/** Ops that have no gradient by design (integer outputs, comparisons, random...). */
const nonDifferentiable = new Set<string>();
export function registerNonDifferentiable(...ops: string[]): void {
  for (const op of ops) nonDifferentiable.add(op);
}
export function isNonDifferentiable(op: string): boolean {
  return nonDifferentiable.has(op);
}

export function registeredGradients(): string[] {
  return [...rules.keys()].sort();
}
