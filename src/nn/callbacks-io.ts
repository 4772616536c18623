import { ArgumentError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { BaseCallback, type Logs } from './callbacks.js';
import {
  checkArgsObject,
  checkMode,
  checkMonitor,
  checkVerbose01,
  isImprovement,
  type MonitorMode,
  resolveMode,
  say,
} from './callbacks-monitor.js';

/** The callbacks that write files (Node): ModelCheckpoint and CSVLogger. Every write is atomic. */

/**
 * Fills Python-format placeholders in `template` from `values`: `{epoch}`, `{epoch:02d}`,
 * `{val_loss:.4f}`, `{loss:.2e}` (what Keras' ModelCheckpoint filepath accepts).
 */
export function formatPath(template: string, values: Record<string, number>, who = 'formatPath'): string {
  return template.replace(/\{([A-Za-z_]\w*)(?::([^}]*))?\}/g, (_, key: string, spec?: string) => {
    if (!Object.hasOwn(values, key))
      throw new ArgumentError(
        `${who}: the filepath ${JSON.stringify(template)} uses {${key}}, which is not in the logs (available: ${Object.keys(values).join(', ')})`,
      );
    return formatNumber(values[key], spec ?? '', template, who);
  });
}

function formatNumber(v: number, spec: string, template: string, who: string): string {
  const m = /^(0)?(\d+)?(?:\.(\d+))?([dfeg])?$/.exec(spec);
  if (!m)
    throw new ArgumentError(
      `${who}: unsupported format spec ':${spec}' in ${JSON.stringify(template)}; use d, .Nf, .Ne or .Ng with an optional 0-padded width`,
    );
  const [, zero, width, prec, kind] = m;
  let s: string;
  if (kind === 'd') s = String(Math.trunc(v));
  else if (kind === 'f') s = v.toFixed(prec === undefined ? 6 : Number(prec));
  else if (kind === 'e')
    s = v.toExponential(prec === undefined ? 6 : Number(prec)).replace(/e([+-])(\d)$/, 'e$10$2');
  else if (kind === 'g')
    s = String(Number(v.toPrecision(prec === undefined ? 6 : Math.max(1, Number(prec)))));
  else s = String(v);
  const w = width === undefined ? 0 : Number(width);
  if (s.length >= w) return s;
  if (!zero) return s.padStart(w, ' ');
  const neg = s.startsWith('-');
  return (neg ? '-' : '') + (neg ? s.slice(1) : s).padStart(w - (neg ? 1 : 0), '0');
}

async function parentFolder(path: string): Promise<void> {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  if (i > 0) {
    const fs = await import('../io/node-fs.js');
    await fs.makeDirectory(path.slice(0, i));
  }
}

/** Options of `ModelCheckpoint` (Keras `ModelCheckpoint`, camelCase). */
export interface ModelCheckpointArgs {
  /** Where to save; may hold `{epoch:02d}`, `{batch}` and log placeholders such as `{val_loss:.4f}`. */
  filepath: string;
  /** The log entry `saveBestOnly` watches (default 'val_loss'). */
  monitor?: string;
  /** 0 silent (default), 1 prints each save. */
  verbose?: 0 | 1;
  /** Save only when `monitor` improves on the best so far (default false). */
  saveBestOnly?: boolean;
  /** `model.saveWeights(filepath)` instead of `model.save(filepath)` (default false). */
  saveWeightsOnly?: boolean;
  /** 'min', 'max' or 'auto' (default; see `resolveMode`). */
  mode?: MonitorMode;
  /** 'epoch' (default) or a number of steps between saves. */
  saveFreq?: 'epoch' | number;
  /** The starting "best" value for `saveBestOnly` (default: none). */
  initialValueThreshold?: number;
}

const CHECKPOINT_KEYS: OptionKeys<ModelCheckpointArgs> = {
  filepath: true,
  monitor: true,
  verbose: true,
  saveBestOnly: true,
  saveWeightsOnly: true,
  mode: true,
  saveFreq: true,
  initialValueThreshold: true,
};

/**
 * Keras `ModelCheckpoint`: saves the model (`model.save`, any target it accepts: a folder, a
 * `.safetensors` or `.keras` path) or only its weights (`model.saveWeights`) after each epoch or
 * every `saveFreq` steps; with `saveBestOnly`, only when `monitor` improves. Folders in the path are
 * created; files are replaced atomically. For a checkpoint that resumes training with the
 * optimizer's state, save to a folder (model.save includes the optimizer) or use `modelCheckpoint`.
 */
export class ModelCheckpoint extends BaseCallback {
  /** The path template. */
  readonly filepath: string;
  /** The watched log entry. */
  readonly monitor: string;
  /** 0 silent, 1 prints. */
  readonly verbose: 0 | 1;
  /** Whether only improvements are saved. */
  readonly saveBestOnly: boolean;
  /** Whether only the weights are saved. */
  readonly saveWeightsOnly: boolean;
  /** The mode given. */
  readonly mode: MonitorMode;
  /** 'epoch' or steps between saves. */
  readonly saveFreq: 'epoch' | number;
  /** The best monitored value so far. */
  best: number;
  private epoch = 0;
  private sinceSave = 0;

  constructor(args: ModelCheckpointArgs) {
    super();
    const who = 'ModelCheckpoint';
    checkArgsObject(args, who);
    checkOptions(args, CHECKPOINT_KEYS, who);
    if (typeof args.filepath !== 'string' || args.filepath === '')
      throw new ArgumentError(
        `${who}: filepath must be a non-empty string, got ${JSON.stringify(args.filepath)}`,
      );
    this.filepath = args.filepath;
    this.monitor = checkMonitor(args.monitor ?? 'val_loss', who);
    this.verbose = checkVerbose01(args.verbose ?? 0, who);
    for (const k of ['saveBestOnly', 'saveWeightsOnly'] as const)
      if (args[k] !== undefined && typeof args[k] !== 'boolean')
        throw new ArgumentError(`${who}: ${k} must be a boolean, got ${JSON.stringify(args[k])}`);
    this.saveBestOnly = args.saveBestOnly ?? false;
    this.saveWeightsOnly = args.saveWeightsOnly ?? false;
    this.mode = checkMode(args.mode ?? 'auto', who);
    const freq = args.saveFreq ?? 'epoch';
    if (freq !== 'epoch' && !(Number.isInteger(freq) && (freq as number) > 0))
      throw new ArgumentError(
        `${who}: saveFreq must be 'epoch' or a positive integer, got ${JSON.stringify(freq)}`,
      );
    this.saveFreq = freq;
    const t = args.initialValueThreshold;
    if (t !== undefined && (typeof t !== 'number' || Number.isNaN(t)))
      throw new ArgumentError(`${who}: initialValueThreshold must be a number, got ${JSON.stringify(t)}`);
    const dir = resolveMode(this.monitor, this.mode);
    this.best = t ?? (dir === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY);
  }

  /** Remembers the epoch (for `{epoch}` in step-wise saves). */
  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  /** Saves every `saveFreq` steps when it is a number. */
  async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') return;
    this.sinceSave += 1;
    if (this.sinceSave < this.saveFreq) return;
    this.sinceSave = 0;
    await this.save(this.epoch, batch, logs);
  }

  /** Saves at the end of the epoch when `saveFreq` is 'epoch'. */
  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.save(epoch, undefined, logs);
  }

  private async save(epoch: number, batch: number | undefined, logs: Logs): Promise<void> {
    const who = 'ModelCheckpoint';
    const model = this.requireModel(who);
    const values: Record<string, number> = { ...logs, epoch: epoch + 1 };
    if (batch !== undefined) values.batch = batch + 1;
    const path = formatPath(this.filepath, values, who);
    if (this.saveBestOnly) {
      const current = logs?.[this.monitor];
      if (current !== undefined) {
        const dir = resolveMode(this.monitor, this.mode);
        if (!isImprovement(current, this.best, dir, 0)) {
          if (this.verbose > 0)
            say(`\nEpoch ${epoch + 1}: ${this.monitor} did not improve from ${this.best.toFixed(5)}`);
          return;
        }
        if (this.verbose > 0)
          say(
            `\nEpoch ${epoch + 1}: ${this.monitor} improved from ${this.best.toFixed(5)} to ${current.toFixed(5)}, saving model to ${path}`,
          );
        this.best = current;
      } else if (this.verbose > 0) say(`Can save best model only with ${this.monitor} available.`);
    } else if (this.verbose > 0) say(`\nEpoch ${epoch + 1}: saving model to ${path}`);
    await parentFolder(path);
    if (this.saveWeightsOnly) await model.saveWeights(path);
    else await model.save(path);
  }
}

/** Options of `CSVLogger` (Keras `CSVLogger`). */
export interface CSVLoggerArgs {
  /** The CSV file. */
  filename: string;
  /** The column separator (default ','). */
  separator?: string;
  /** Add rows to an existing file instead of replacing it (default false). */
  append?: boolean;
}

const CSV_KEYS: OptionKeys<CSVLoggerArgs> = { filename: true, separator: true, append: true };

function csvValue(v: number | undefined): string {
  if (v === undefined) return 'NA';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return String(v);
}

/**
 * Keras `CSVLogger`: one row per epoch, columns `epoch` then the log names sorted (Keras' order),
 * lines ending in CRLF (Python's csv dialect). The file is rewritten atomically after each epoch
 * (earlier rows kept), so a crash leaves the previous complete file; with `append`, the rows of an
 * existing file are kept and its header is not repeated.
 */
export class CSVLogger extends BaseCallback {
  /** The CSV file. */
  readonly filename: string;
  /** The column separator. */
  readonly separator: string;
  /** Whether rows are added to an existing file. */
  readonly append: boolean;
  private text = '';
  private keys?: string[];
  private header = true;

  constructor(args: CSVLoggerArgs) {
    super();
    const who = 'CSVLogger';
    checkArgsObject(args, who);
    checkOptions(args, CSV_KEYS, who);
    if (typeof args.filename !== 'string' || args.filename === '')
      throw new ArgumentError(
        `${who}: filename must be a non-empty string, got ${JSON.stringify(args.filename)}`,
      );
    const sep = args.separator ?? ',';
    if (typeof sep !== 'string' || sep.length !== 1 || /[\r\n"]/.test(sep))
      throw new ArgumentError(
        `${who}: separator must be one character (not a quote or newline), got ${JSON.stringify(sep)}`,
      );
    if (args.append !== undefined && typeof args.append !== 'boolean')
      throw new ArgumentError(`${who}: append must be a boolean, got ${JSON.stringify(args.append)}`);
    this.filename = args.filename;
    this.separator = sep;
    this.append = args.append ?? false;
  }

  /** Reads the existing file when appending; otherwise starts empty. */
  async onTrainBegin(): Promise<void> {
    this.text = '';
    this.keys = undefined;
    this.header = true;
    if (!this.append) return;
    const fs = await import('../io/node-fs.js');
    try {
      this.text = await fs.readTextFile(this.filename);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (this.text !== '' && !/\n$/.test(this.text)) this.text += '\r\n';
    this.header = this.text.split(/\r?\n/, 1)[0].length === 0;
  }

  /** Adds the epoch's row and rewrites the file atomically. */
  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (!this.keys) {
      this.keys = Object.keys(logs ?? {}).sort();
      // Validation may skip the first epochs (validationFreq): keep a column for each val_ entry.
      if (this.params.doValidation === true)
        for (const k of [...this.keys])
          if (!k.startsWith('val_') && k !== 'learning_rate' && !this.keys.includes(`val_${k}`))
            this.keys.push(`val_${k}`);
    }
    const sep = this.separator;
    if (this.header) {
      this.text += `${['epoch', ...this.keys].join(sep)}\r\n`;
      this.header = false;
    }
    this.text += `${[String(epoch), ...this.keys.map((k) => csvValue(logs?.[k]))].join(sep)}\r\n`;
    await parentFolder(this.filename);
    const io = await import('../io/weights-file.js');
    await io.writeFileAtomic(this.filename, new TextEncoder().encode(this.text));
  }
}
