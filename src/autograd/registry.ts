import { ArgumentError } from '../tensor/errors.js';
import type { OpName, OpRecord } from '../tensor/op-table.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Backward rules by op name. A rule is a small pure function of the output gradient and what the
 * forward op recorded (its attributes typed by the op table); it is built from the same public ops
 * and knows nothing about the tape. It returns one gradient (or null) per input; `needed[i]` says
 * whether input i wants one, so a rule may skip work (returning null) for inputs that do not.
 */
export type GradRule<K extends OpName = OpName> = (
  dy: Tensor,
  rec: OpRecord<K>,
  needed: readonly boolean[],
) => Array<Tensor | null>;

/**
 * The gradient table: for every op of the op table, its rule or `'nondiff'` (no gradient by design:
 * integer outputs, comparisons, the gradients' own kernels...). Exhaustive, so an op recorded
 * without an entry does not compile.
 */
export type GradTable = { [K in OpName]: GradRule<K> | 'nondiff' };

const rules: { [K in OpName]?: GradRule<K> } = {};
const nonDifferentiable = new Set<string>();

function setRule<K extends OpName>(op: K, rule: GradRule<K>): void {
  const table: { [J in K]?: GradRule<J> } = rules;
  table[op] = rule;
}

/** Installs a whole table (src/autograd/rules/index.ts installs the library's own). */
export function registerGradientTable(table: GradTable): void {
  for (const op of Object.keys(table) as OpName[]) install(op, table);
}

function install<K extends OpName>(op: K, table: GradTable): void {
  const entry: GradRule<K> | 'nondiff' = table[op];
  if (entry === 'nondiff') {
    nonDifferentiable.add(op);
    delete rules[op];
  } else {
    nonDifferentiable.delete(op);
    setRule(op, entry);
  }
}

/** Registers (or replaces) the backward rule of op `op`. */
export function registerGradient<K extends OpName>(op: K, rule: GradRule<K>): void {
  if (typeof op !== 'string' || (op as string) === '')
    throw new ArgumentError(`registerGradient: op must be a non-empty string, got ${JSON.stringify(op)}`);
  if (typeof rule !== 'function')
    throw new ArgumentError(`registerGradient: rule for '${op}' must be a function, got ${typeof rule}`);
  nonDifferentiable.delete(op);
  setRule(op, rule);
}

/** The rule of op `op`, if it has one. */
export function getGradient<K extends OpName>(op: K): GradRule<K> | undefined {
  const table: { [J in K]?: GradRule<J> } = rules;
  return table[op];
}

/** True for ops whose table entry says 'nondiff'. */
export function isNonDifferentiable(op: string): boolean {
  return nonDifferentiable.has(op);
}

/** The names of the ops that have a backward rule, sorted. */
export function registeredGradients(): string[] {
  return Object.keys(rules).sort();
}
