import { ArgumentError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { BaseCallback, type Callback, type Logs } from './callbacks.js';
import { checkArgsObject, checkVerbose01, numericLearningRate, say } from './callbacks-monitor.js';

/** The small callbacks: LearningRateScheduler, TerminateOnNaN, LambdaCallback (Keras 3 semantics). */

/** Options of `LearningRateScheduler`. */
export interface LearningRateSchedulerArgs {
  /** 0 silent (default), 1 prints the rate set at each epoch. */
  verbose?: 0 | 1;
}

/**
 * Keras `LearningRateScheduler`: before each epoch sets `model.optimizer.learningRate` to
 * `schedule(epoch, currentRate)` (epoch 0-based); each epoch's logs get `learning_rate`.
 */
export class LearningRateScheduler extends BaseCallback {
  /** The schedule: (epoch, current rate) -> new rate. */
  readonly schedule: (epoch: number, lr: number) => number;
  /** 0 silent, 1 prints. */
  readonly verbose: 0 | 1;

  constructor(schedule: (epoch: number, lr: number) => number, args: LearningRateSchedulerArgs = {}) {
    super();
    const who = 'LearningRateScheduler';
    if (typeof schedule !== 'function')
      throw new ArgumentError(
        `${who}: schedule must be a function (epoch, lr) => number, got ${typeof schedule}`,
      );
    checkArgsObject(args, who);
    checkOptions<LearningRateSchedulerArgs>(args, { verbose: true }, who);
    this.schedule = schedule;
    this.verbose = checkVerbose01(args.verbose ?? 0, who);
  }

  /** Sets the epoch's rate from the schedule. */
  onEpochBegin(epoch: number): void {
    const who = 'LearningRateScheduler';
    const model = this.requireModel(who);
    const lr = this.schedule(epoch, numericLearningRate(model, who));
    if (typeof lr !== 'number' || !Number.isFinite(lr) || !(lr > 0))
      throw new ArgumentError(
        `${who}: the schedule must return a finite number > 0, got ${JSON.stringify(lr)} at epoch ${epoch}`,
      );
    model.optimizer!.learningRate = lr;
    if (this.verbose > 0) say(`\nEpoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${lr}.`);
  }

  /** Adds `learning_rate` to the epoch's logs. */
  onEpochEnd(_epoch: number, logs: Logs): void {
    if (logs)
      logs.learning_rate = numericLearningRate(
        this.requireModel('LearningRateScheduler'),
        'LearningRateScheduler',
      );
  }
}

/**
 * Keras `TerminateOnNaN`: when a step's loss is NaN or infinite, prints `Batch <n>: Invalid loss,
 * terminating training` and stops `fit` at once (the current epoch ends after that step; its
 * validation and `onEpochEnd` still run, as Keras 3).
 */
export class TerminateOnNaN extends BaseCallback {
  /** Checks the step's loss. */
  onBatchEnd(batch: number, logs: Logs): void {
    const loss = logs?.loss;
    if (loss !== undefined && !Number.isFinite(loss)) {
      say(`Batch ${batch}: Invalid loss, terminating training`);
      this.requireModel('TerminateOnNaN').stopTraining = true;
    }
  }
}

/** The hooks of a `LambdaCallback` (Keras `LambdaCallback`, camelCase). */
export type LambdaCallbackArgs = Pick<
  Callback,
  'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin' | 'onBatchEnd' | 'onTrainBegin' | 'onTrainEnd'
>;

const LAMBDA_KEYS: OptionKeys<LambdaCallbackArgs> = {
  onEpochBegin: true,
  onEpochEnd: true,
  onBatchBegin: true,
  onBatchEnd: true,
  onTrainBegin: true,
  onTrainEnd: true,
};

/** Keras `LambdaCallback`: a callback made of the functions given (each optional, may be async). */
export class LambdaCallback extends BaseCallback {
  constructor(args: LambdaCallbackArgs = {}) {
    super();
    const who = 'LambdaCallback';
    checkArgsObject(args, who);
    checkOptions(args, LAMBDA_KEYS, who);
    for (const [k, f] of Object.entries(args)) {
      if (f === undefined) continue;
      if (typeof f !== 'function')
        throw new ArgumentError(`${who}: ${k} must be a function, got ${JSON.stringify(f)}`);
      Object.defineProperty(this, k, { value: f, enumerable: true });
    }
  }
}
