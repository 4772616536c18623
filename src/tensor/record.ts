import type { Tensor } from './tensor.js';

/**
 * The one hook between ops and autograd: every public op calls `recordOp` after computing its
 * output. Without an active recorder (no gradient tape) it does nothing. The autograd module
 * installs a recorder; ops never know about gradients (as in TensorFlow.js).
 */
export interface OpRecord {
  /** Op name, e.g. 'add', 'matmul'; backward rules are registered under the same name. */
  op: string;
  inputs: readonly Tensor[];
  output: Tensor;
  /** Everything a backward rule needs besides inputs and output (axes, flags...). Plain data. */
  attrs?: Readonly<Record<string, unknown>>;
}

type Recorder = (r: OpRecord) => void;
let recorder: Recorder | undefined;

export function recordOp(
  op: string,
  inputs: readonly Tensor[],
  output: Tensor,
  attrs?: Record<string, unknown>,
): Tensor {
  recorder?.({ op, inputs, output, attrs });
  return output;
}

/** @internal Installs (or removes, with undefined) the recorder; returns the previous one. */
export function setRecorder(r: Recorder | undefined): Recorder | undefined {
  const prev = recorder;
  recorder = r;
  return prev;
}

/** True while a gradient tape is recording (ops may then need to record constants as tensors). */
export function isRecording(): boolean {
  return recorder !== undefined;
}
