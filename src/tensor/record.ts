import type { AnyOpRecord, OpAttrs, OpName } from './op-table.js';
import type { Tensor } from './tensor.js';

export type { AnyOpRecord, OpAttrs, OpName, OpRecord } from './op-table.js';

/**
 * The one hook between ops and autograd: every public op calls `recordOp` after computing its
 * output. Without an active recorder (no gradient tape) it does nothing. The autograd module
 * installs a recorder; ops never know about gradients (as in TensorFlow.js). Op names and their
 * attributes are typed by the op table (op-table.ts).
 */

/** What a gradient tape installs: ops report to `record`; model code may ask the other two. */
export interface Recorder {
  record(r: AnyOpRecord): void;
  /** True when `t` depends on a tensor the tape differentiates with respect to. */
  dependsOnWatched(t: Tensor): boolean;
  /** True when a recorded op reads or wrote `t`, so it must live until the backward pass. */
  holds(t: Tensor): boolean;
}
let recorder: Recorder | undefined;

/** The attributes argument of `recordOp`: optional for ops whose table entry records none. */
export type AttrsArg<K extends OpName> =
  Record<string, never> extends OpAttrs[K] ? [attrs?: OpAttrs[K]] : [attrs: OpAttrs[K]];

/** Records op `op` (a name of the op table, with its attributes) and returns `output`. */
export function recordOp<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  output: Tensor,
  ...attrs: AttrsArg<K>
): Tensor {
  if (recorder) {
    const attributes = (attrs[0] ?? {}) as OpAttrs[K];
    recorder.record({ op, inputs, output, attrs: attributes } as AnyOpRecord);
  }
  return output;
}

/**
 * @internal Installs (or removes, with undefined) the recorder; returns the previous one. A plain
 * function records everything and counts every tensor as needed.
 */
export function setRecorder(r: Recorder | ((r: AnyOpRecord) => void) | undefined): Recorder | undefined {
  const prev = recorder;
  recorder = typeof r === 'function' ? { record: r, dependsOnWatched: () => true, holds: () => true } : r;
  return prev;
}

/** True while a gradient tape is recording (ops may then need to record constants as tensors). */
export function isRecording(): boolean {
  return recorder !== undefined;
}

/**
 * True when a gradient may flow through one of `ts`: a tape is recording and some of them depend
 * on what it differentiates. Lets model code take non-differentiable fast paths for frozen parts.
 */
export function needsGradient(...ts: Array<Tensor | undefined>): boolean {
  const r = recorder;
  return r !== undefined && ts.some((t) => t !== undefined && r.dependsOnWatched(t));
}

/** True when no recording tape needs `t` later, so its owner may dispose it early. */
export function freeable(t: Tensor): boolean {
  return recorder === undefined || !recorder.holds(t);
}
