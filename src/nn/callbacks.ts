import { ArgumentError } from '../tensor/errors.js';
import type { Model } from './model.js';

/** The logs a hook receives: loss, metrics and `val_` entries by name. */
export type Logs = Record<string, number>;

/**
 * Keras-style callbacks: every hook is optional and may be async. A plain object works; so does a
 * subclass of `BaseCallback`. `fit` calls `setModel(model)` and `setParams(params)` first on every
 * callback that has them.
 */
export interface Callback {
  /** Called by `fit` with the model being trained, before `onTrainBegin`. */
  setModel?(model: Model): void;
  /** Called by `fit` with the training parameters (`epochs`, `steps`, `verbose`), before `onTrainBegin`. */
  setParams?(params: Record<string, unknown>): void;
  /** Before the first epoch. */
  onTrainBegin?(logs?: Logs): void | Promise<void>;
  /** After the last epoch, with the last epoch's logs. */
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  /** Before each epoch (0-based). */
  onEpochBegin?(epoch: number, logs?: Logs): void | Promise<void>;
  /**
   * After each epoch, with its logs (`loss`, metrics, `val_` entries). A callback may add entries
   * (ReduceLROnPlateau adds `learning_rate`); later callbacks and the History see them.
   */
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  /** Before each step (0-based within the epoch). */
  onBatchBegin?(batch: number, logs?: Logs): void | Promise<void>;
  /** After each step, with that step's loss and metrics. */
  onBatchEnd?(batch: number, logs: Logs): void | Promise<void>;
}

/**
 * Keras `Callback`: the base class of the built-in callbacks. Subclasses override the hooks they
 * need; `this.model` and `this.params` are set by `fit` before training begins.
 */
export class BaseCallback implements Callback {
  /** The model being trained (set by `fit`; undefined before). */
  model?: Model;
  /** The training parameters `fit` passed (`epochs`, `steps`, `verbose`...). */
  params: Record<string, unknown> = {};

  /** Sets the model this callback acts on (`fit` calls it). */
  setModel(model: Model): void {
    if (model === null || typeof model !== 'object' || !('weights' in model) || !('stopTraining' in model))
      throw new ArgumentError(
        `${this.constructor.name}.setModel: model must be a Model (Sequential or functional), got ${model === null ? 'null' : typeof model}`,
      );
    this.model = model;
  }

  /** Sets the training parameters (`fit` calls it). */
  setParams(params: Record<string, unknown>): void {
    if (params === null || typeof params !== 'object')
      throw new ArgumentError(
        `${this.constructor.name}.setParams: params must be an object, got ${JSON.stringify(params)}`,
      );
    this.params = params;
  }

  /** The model, or an error naming the callback when it is used outside `fit`. */
  protected requireModel(who: string): Model {
    if (!this.model)
      throw new ArgumentError(`${who}: no model set; pass the callback to model.fit({ callbacks })`);
    return this.model;
  }
}

/** Checks `fit`'s callbacks option: a list of objects; returns it. */
export function checkCallbacks(callbacks: unknown, who: string): Callback[] {
  if (!Array.isArray(callbacks) || callbacks.some((c) => c === null || typeof c !== 'object'))
    throw new ArgumentError(`${who}: callbacks must be an array of callback objects`);
  return callbacks as Callback[];
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
