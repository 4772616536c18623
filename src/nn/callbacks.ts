/** Keras-style callbacks: every hook is optional and may be async. */
export interface Callback {
  onTrainBegin?(logs?: Record<string, number>): void | Promise<void>;
  onTrainEnd?(logs?: Record<string, number>): void | Promise<void>;
  onEpochBegin?(epoch: number, logs?: Record<string, number>): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Record<string, number>): void | Promise<void>;
  onBatchEnd?(batch: number, logs: Record<string, number>): void | Promise<void>;
}

/** What `fit` returns: per-epoch logs, as Keras' History (`history.history.val_accuracy`...). */
export class History {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};
  params: Record<string, unknown> = {};

  record(epoch: number, logs: Record<string, number>): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }

  toJSON(): { epoch: number[]; history: Record<string, number[]>; params: Record<string, unknown> } {
    return { epoch: this.epoch, history: this.history, params: this.params };
  }
}
