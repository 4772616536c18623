import { ArgumentError } from '../tensor/errors.js';
import type { Lists } from './batches.js';
import { checkPositiveInt } from './layer.js';

/**
 * How `fit` splits data into epochs and when it validates: `stepsPerEpoch`, `validationSteps`,
 * `validationFreq` (Keras 3 semantics).
 */

/**
 * The batches of each epoch. Without `steps`, each epoch is one full pass (a fresh iteration of the
 * data). With `steps`, as Keras 3: an epoch takes `steps` batches from a pass that carries on into
 * the next epoch; when the pass runs out, the epoch ends early and the next epoch starts a new pass
 * (re-shuffled tensors, or a new iteration of the dataset). A dataset longer than `steps` batches is
 * therefore read across several epochs; one shorter gives shorter epochs.
 */
export class EpochBatches {
  private it?: AsyncIterator<Lists>;

  /** `pass(epoch)` starts a new pass over the data in that epoch. */
  constructor(
    private readonly pass: (epoch: number) => AsyncIterable<Lists>,
    private readonly steps?: number,
  ) {}

  /** The batches of epoch `epoch`. */
  async *epoch(epoch: number): AsyncGenerator<Lists> {
    if (this.steps === undefined) {
      yield* this.pass(epoch);
      return;
    }
    let n = 0;
    let fresh = false;
    while (n < this.steps) {
      if (!this.it) {
        this.it = this.pass(epoch)[Symbol.asyncIterator]();
        fresh = true;
      }
      const r = await this.it.next();
      if (r.done) {
        this.it = undefined;
        // A pass that ended exactly at the last epoch's end: start the next one now.
        if (n === 0 && !fresh) continue;
        return;
      }
      n++;
      yield r.value;
    }
  }

  /** Ends a pass left open (the dataset's own cleanup runs). */
  async close(): Promise<void> {
    const it = this.it;
    this.it = undefined;
    await it?.return?.();
  }
}

/** At most `n` batches of `source` (all when `n` is undefined). */
export async function* takeBatches(source: AsyncIterable<Lists>, n?: number): AsyncGenerator<Lists> {
  if (n === undefined) {
    yield* source;
    return;
  }
  let k = 0;
  for await (const b of source) {
    yield b;
    if (++k >= n) return;
  }
}

/** `validationFreq`: validate every N epochs, or after the listed epochs (1-based). */
export type ValidationFreq = number | number[];

export function checkValidationFreq(v: unknown, who: string): ValidationFreq {
  if (v === undefined) return 1;
  if (Array.isArray(v)) {
    if (!v.every((e) => Number.isInteger(e) && e >= 1))
      throw new ArgumentError(
        `${who}: validationFreq as a list must hold epoch numbers >= 1 (1-based), got ${JSON.stringify(v)}`,
      );
    return v;
  }
  return checkPositiveInt(v, 'validationFreq', who);
}

/** Whether to validate after `epoch` (0-based), as Keras' `_should_eval`. */
export function shouldValidate(epoch: number, freq: ValidationFreq): boolean {
  return typeof freq === 'number' ? (epoch + 1) % freq === 0 : freq.includes(epoch + 1);
}
