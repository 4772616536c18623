/** Keras-style callbacks: every hook is optional and may be async. */
export interface Callback {
  /** Before the first epoch. */
  onTrainBegin?(logs?: Record<string, number>): void | Promise<void>;
  /** After the last epoch, with the last epoch's logs. */
  onTrainEnd?(logs?: Record<string, number>): void | Promise<void>;
  /** Before each epoch (0-based). */
  onEpochBegin?(epoch: number, logs?: Record<string, number>): void | Promise<void>;
  /** After each epoch, with its logs (`loss`, metrics, `val_` entries). */
  onEpochEnd?(epoch: number, logs: Record<string, number>): void | Promise<void>;
  /** After each step, with the running means of the epoch so far. */
  onBatchEnd?(batch: number, logs: Record<string, number>): void | Promise<void>;
}

/** What `fit` returns: per-epoch logs, as Keras' History (`history.history.val_accuracy`...). */
export class History {
  /** The epochs recorded, in order. */
  readonly epoch: number[] = [];
  /** Each log entry per epoch: `history.loss[i]`, `history.val_accuracy[i]`. */
  readonly history: Record<string, number[]> = {};
  /** The training parameters (`epochs`, `steps`, `verbose`). */
  params: Record<string, unknown> = {};

  /** Appends one epoch's logs. */
  record(epoch: number, logs: Record<string, number>): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }

  /** The history as plain JSON (what `JSON.stringify(history)` writes). */
  toJSON(): {
    /** The epochs recorded. */
    epoch: number[];
    /** Each log entry per epoch. */
    history: Record<string, number[]>;
    /** The training parameters. */
    params: Record<string, unknown>;
  } {
    return { epoch: this.epoch, history: this.history, params: this.params };
  }
}
