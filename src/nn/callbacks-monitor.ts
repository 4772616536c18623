import { ArgumentError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { type Variable, variable } from '../tensor/variable.js';
import { BaseCallback, type Logs } from './callbacks.js';
import type { Model } from './model.js';
import { defaultSink } from './progress.js';

/**
 * The callbacks that watch a logged quantity across epochs: EarlyStopping and ReduceLROnPlateau
 * (Keras 3 semantics), and the monitor helpers ModelCheckpoint shares.
 */

/** Which way a monitored quantity improves: 'auto' infers it from the name. */
export type MonitorMode = 'auto' | 'min' | 'max';

const MAX_NAMES = ['acc', 'auc', 'precision', 'recall', 'f1', 'iou'];

/**
 * 'min' or 'max' for `monitor` in `mode`. 'auto' maximises names containing acc, auc, precision,
 * recall, f1 or iou (accuracy, val_auc...) and minimises the rest (loss, mse...).
 */
export function resolveMode(monitor: string, mode: MonitorMode): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  const name = monitor.replace(/^val_/, '').toLowerCase();
  if (name === 'loss' || name.endsWith('_loss')) return 'min';
  return MAX_NAMES.some((k) => name.includes(k)) ? 'max' : 'min';
}

/** Whether `current` beats `reference` by more than `minDelta` in direction `dir`. */
export function isImprovement(
  current: number,
  reference: number,
  dir: 'min' | 'max',
  minDelta: number,
): boolean {
  return dir === 'min' ? current + minDelta < reference : current - minDelta > reference;
}

export function checkMonitor(v: unknown, who: string): string {
  if (typeof v !== 'string' || v === '')
    throw new ArgumentError(
      `${who}: monitor must be a log name such as 'val_loss', got ${JSON.stringify(v)}`,
    );
  return v;
}

export function checkMode(v: unknown, who: string): MonitorMode {
  if (v !== 'auto' && v !== 'min' && v !== 'max')
    throw new ArgumentError(`${who}: mode must be 'auto', 'min' or 'max', got ${JSON.stringify(v)}`);
  return v;
}

export function checkNumber(v: unknown, name: string, who: string, min = 0, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v)))
    throw new ArgumentError(
      `${who}: ${name} must be a finite ${integer ? 'integer' : 'number'}${min > -Infinity ? ` >= ${min}` : ''}, got ${JSON.stringify(v)}`,
    );
  return v;
}

export function checkArgsObject(args: unknown, who: string): void {
  if (args === null || typeof args !== 'object' || Array.isArray(args))
    throw new ArgumentError(`${who}: expected an options object, got ${JSON.stringify(args)}`);
}

/** Prints a callback's message (what Keras' `verbose=1` prints). */
export function say(text: string): void {
  defaultSink().write(`${text}\n`);
}

/** The optimizer's learning rate as a number; a schedule cannot be changed per epoch. */
export function numericLearningRate(model: Model, who: string): number {
  const opt = model.optimizer;
  if (!opt) throw new ArgumentError(`${who}: the model is not compiled (no optimizer)`);
  const lr = opt.learningRate;
  if (typeof lr !== 'number')
    throw new ArgumentError(
      `${who}: the optimizer's learningRate is a schedule; this callback sets a number each epoch. Compile with a numeric learningRate (the schedule and this callback would fight)`,
    );
  return lr;
}

/** Options of `EarlyStopping` (Keras `EarlyStopping`, camelCase). */
export interface EarlyStoppingArgs {
  /** The log entry to watch (default 'val_loss'). */
  monitor?: string;
  /** The smallest change that counts as an improvement (default 0; its absolute value is used). */
  minDelta?: number;
  /** Epochs without improvement before stopping (default 0). */
  patience?: number;
  /** 0 silent (default), 1 prints when it stops and restores. */
  verbose?: 0 | 1;
  /** 'min', 'max' or 'auto' (default: from the name, see `resolveMode`). */
  mode?: MonitorMode;
  /** Training stops unless the monitored value beats this (default: none). */
  baseline?: number;
  /** Restore the weights of the best epoch when training ends (default false). */
  restoreBestWeights?: boolean;
  /** Epochs to wait before watching at all (warm-up; default 0). */
  startFromEpoch?: number;
}

const EARLY_KEYS: OptionKeys<EarlyStoppingArgs> = {
  monitor: true,
  minDelta: true,
  patience: true,
  verbose: true,
  mode: true,
  baseline: true,
  restoreBestWeights: true,
  startFromEpoch: true,
};

/**
 * Keras `EarlyStopping`: stops `fit` when `monitor` has not improved for `patience` epochs. With
 * `restoreBestWeights`, GPU copies of the best epoch's weights are kept and assigned back when
 * training ends, whether or not it stopped early (as Keras 3). One difference: `best` is reset at
 * each `onTrainBegin`, so an instance can be reused across `fit` calls.
 */
export class EarlyStopping extends BaseCallback {
  /** The watched log entry. */
  readonly monitor: string;
  /** The improvement threshold (absolute value). */
  readonly minDelta: number;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** 0 silent, 1 prints. */
  readonly verbose: 0 | 1;
  /** The mode given. */
  readonly mode: MonitorMode;
  /** The value to beat, if any. */
  readonly baseline?: number;
  /** Whether the best weights are restored at the end. */
  readonly restoreBestWeights: boolean;
  /** Warm-up epochs ignored. */
  readonly startFromEpoch: number;
  /** Epochs since the last improvement. */
  wait = 0;
  /** The epoch (0-based) at which training was stopped, 0 if it was not. */
  stoppedEpoch = 0;
  /** The best value seen. */
  best = Number.POSITIVE_INFINITY;
  /** The epoch (0-based) of the best value. */
  bestEpoch = 0;
  private bestWeights?: Variable[];

  constructor(args: EarlyStoppingArgs = {}) {
    super();
    const who = 'EarlyStopping';
    checkArgsObject(args, who);
    checkOptions(args, EARLY_KEYS, who);
    this.monitor = checkMonitor(args.monitor ?? 'val_loss', who);
    this.minDelta = Math.abs(checkNumber(args.minDelta ?? 0, 'minDelta', who, -Infinity));
    this.patience = checkNumber(args.patience ?? 0, 'patience', who, 0, true);
    this.verbose = checkVerbose01(args.verbose ?? 0, who);
    this.mode = checkMode(args.mode ?? 'auto', who);
    if (args.baseline !== undefined) this.baseline = checkNumber(args.baseline, 'baseline', who, -Infinity);
    if (args.restoreBestWeights !== undefined && typeof args.restoreBestWeights !== 'boolean')
      throw new ArgumentError(
        `${who}: restoreBestWeights must be a boolean, got ${JSON.stringify(args.restoreBestWeights)}`,
      );
    this.restoreBestWeights = args.restoreBestWeights ?? false;
    this.startFromEpoch = checkNumber(args.startFromEpoch ?? 0, 'startFromEpoch', who, 0, true);
    this.best = this.dir === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  private get dir(): 'min' | 'max' {
    return resolveMode(this.monitor, this.mode);
  }

  /** Resets the counters (and frees any weights kept from a previous run). */
  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.bestEpoch = 0;
    this.best = this.dir === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    this.dropBestWeights();
  }

  /** Compares the epoch's value with the best; stops training when patience has run out. */
  onEpochEnd(epoch: number, logs: Logs): void {
    const current = logs?.[this.monitor];
    if (current === undefined || epoch < this.startFromEpoch) return;
    const model = this.requireModel('EarlyStopping');
    const improved = isImprovement(current, this.best, this.dir, this.minDelta);
    // Keras keeps the first monitored epoch's weights even without an improvement; one copy per
    // epoch at most (an improving first epoch is copied once, below).
    if (this.restoreBestWeights && this.bestWeights === undefined && !improved) {
      this.keepWeights(model);
      this.bestEpoch = epoch;
    }
    this.wait += 1;
    if (improved) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.keepWeights(model);
      if (this.baseline === undefined || isImprovement(current, this.baseline, this.dir, this.minDelta))
        this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      model.stopTraining = true;
    }
  }

  /** Restores the best weights when asked to, and frees the copies. */
  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0) say(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.restoreBestWeights && this.bestWeights && this.model) {
      if (this.verbose > 0)
        say(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
      const weights = this.model.weights;
      weights.forEach((w, i) => {
        w.assign(this.bestWeights![i]);
      });
    }
    this.dropBestWeights();
  }

  /** Frees the kept copies of the best weights (also done at the end of training). */
  dispose(): void {
    this.dropBestWeights();
  }

  private keepWeights(model: Model): void {
    this.dropBestWeights();
    this.bestWeights = model.weights.map((w) => variable(w, { name: `${w.name}/best`, trainable: false }));
  }

  private dropBestWeights(): void {
    for (const v of this.bestWeights ?? []) v.dispose();
    this.bestWeights = undefined;
  }
}

export function checkVerbose01(v: unknown, who: string): 0 | 1 {
  if (v !== 0 && v !== 1) throw new ArgumentError(`${who}: verbose must be 0 or 1, got ${JSON.stringify(v)}`);
  return v;
}

/** Options of `ReduceLROnPlateau` (Keras `ReduceLROnPlateau`, camelCase). */
export interface ReduceLROnPlateauArgs {
  /** The log entry to watch (default 'val_loss'). */
  monitor?: string;
  /** The factor the rate is multiplied by, in (0, 1) (default 0.1). */
  factor?: number;
  /** Epochs without improvement before reducing (default 10). */
  patience?: number;
  /** 0 silent (default), 1 prints each reduction. */
  verbose?: 0 | 1;
  /** 'min', 'max' or 'auto' (default; Keras' rule: max when the name contains 'acc'). */
  mode?: MonitorMode;
  /** The smallest change that counts as an improvement (default 1e-4). */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** The lowest rate (default 0). */
  minLr?: number;
}

const PLATEAU_KEYS: OptionKeys<ReduceLROnPlateauArgs> = {
  monitor: true,
  factor: true,
  patience: true,
  verbose: true,
  mode: true,
  minDelta: true,
  cooldown: true,
  minLr: true,
};

/**
 * Keras `ReduceLROnPlateau`: multiplies `model.optimizer.learningRate` by `factor` when `monitor`
 * has not improved for `patience` epochs, then waits `cooldown` epochs. As Keras 3, every epoch's
 * logs (and so the History) get `learning_rate`: the rate the epoch ran with. The optimizer's rate
 * must be a number, not a schedule.
 */
export class ReduceLROnPlateau extends BaseCallback {
  /** The watched log entry. */
  readonly monitor: string;
  /** The reduction factor. */
  readonly factor: number;
  /** Epochs without improvement before reducing. */
  readonly patience: number;
  /** 0 silent, 1 prints. */
  readonly verbose: 0 | 1;
  /** The mode given. */
  readonly mode: MonitorMode;
  /** The improvement threshold. */
  readonly minDelta: number;
  /** Epochs to wait after a reduction. */
  readonly cooldown: number;
  /** The lowest rate. */
  readonly minLr: number;
  /** Epochs without improvement. */
  wait = 0;
  /** Cooldown epochs left. */
  cooldownCounter = 0;
  /** The best value seen. */
  best = Number.POSITIVE_INFINITY;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    super();
    const who = 'ReduceLROnPlateau';
    checkArgsObject(args, who);
    checkOptions(args, PLATEAU_KEYS, who);
    this.monitor = checkMonitor(args.monitor ?? 'val_loss', who);
    const factor = args.factor ?? 0.1;
    if (typeof factor !== 'number' || !(factor > 0) || factor >= 1)
      throw new ArgumentError(`${who}: factor must be in (0, 1), got ${JSON.stringify(factor)}`);
    this.factor = factor;
    this.patience = checkNumber(args.patience ?? 10, 'patience', who, 0, true);
    this.verbose = checkVerbose01(args.verbose ?? 0, who);
    this.mode = checkMode(args.mode ?? 'auto', who);
    this.minDelta = checkNumber(args.minDelta ?? 1e-4, 'minDelta', who);
    this.cooldown = checkNumber(args.cooldown ?? 0, 'cooldown', who, 0, true);
    this.minLr = checkNumber(args.minLr ?? 0, 'minLr', who);
    this.best = this.dir === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  private get dir(): 'min' | 'max' {
    // Keras 3's own rule for this callback: 'auto' maximises only names containing 'acc'.
    if (this.mode !== 'auto') return this.mode;
    return this.monitor.includes('acc') ? 'max' : 'min';
  }

  /** Resets the counters; refuses a schedule-valued learning rate. */
  onTrainBegin(): void {
    numericLearningRate(this.requireModel('ReduceLROnPlateau'), 'ReduceLROnPlateau');
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = this.dir === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  /** Logs `learning_rate`; reduces the rate when patience has run out. */
  onEpochEnd(epoch: number, logs: Logs): void {
    const model = this.requireModel('ReduceLROnPlateau');
    const lr = numericLearningRate(model, 'ReduceLROnPlateau');
    if (logs) logs.learning_rate = lr;
    const current = logs?.[this.monitor];
    if (current === undefined) return;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }
    if (isImprovement(current, this.best, this.dir, this.minDelta)) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0) {
      this.wait += 1;
      if (this.wait >= this.patience && lr > Math.fround(this.minLr)) {
        const next = Math.max(lr * this.factor, this.minLr);
        model.optimizer!.learningRate = next;
        if (this.verbose > 0)
          say(`\nEpoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${next}.`);
        this.cooldownCounter = this.cooldown;
        this.wait = 0;
      }
    }
  }
}
