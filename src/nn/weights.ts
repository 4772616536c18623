import { WeightsFormatError } from '../io/errors.js';
import { type ParsedSafetensors, type SafetensorsEntry, toFloat32, toInt32 } from '../io/safetensors.js';
import { tensor } from '../tensor/creation.js';
import { ArgumentError, fmtShape } from '../tensor/errors.js';
import { Variable } from '../tensor/variable.js';

/**
 * Loads named weights (e.g. a parsed safetensors file) into variables, by variable name
 * (`layer/weight`, Keras style). Everything is checked before anything is written; one error lists
 * every missing, unexpected or mismatched name.
 */

export interface AssignOptions {
  /** Reject names in the file that match no variable (default true). */
  strict?: boolean;
  /** Maps a file name to a variable name (e.g. TF-Slim 'Logits/kernel' -> Keras 'predictions/kernel'). */
  rename?: (fileName: string) => string;
  /** Named in errors (a path). */
  source?: string;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);
const INT_DTYPES = new Set(['I32', 'I64', 'I16', 'I8', 'U8', 'U16', 'U32', 'BOOL']);

/** Copies the tensors of a parsed safetensors file into `vars`, matched by name (shapes checked; float files of other precisions converted). */
export function assignWeights(
  vars: readonly Variable[],
  file: ParsedSafetensors,
  opts: AssignOptions = {},
): void {
  if (!Array.isArray(vars) || !vars.every((v) => v instanceof Variable))
    throw new ArgumentError('assignWeights: vars must be an array of Variables');
  if (file === null || typeof file !== 'object' || !(file.tensors instanceof Map)) {
    throw new ArgumentError(
      'assignWeights: file must be a parsed safetensors file ({ metadata, tensors: Map }), e.g. from parseSafetensors',
    );
  }
  if (opts.rename !== undefined && typeof opts.rename !== 'function')
    throw new ArgumentError(`assignWeights: rename must be a function, got ${typeof opts.rename}`);
  const where = opts.source ? ` from ${opts.source}` : '';
  const byName = new Map<string, SafetensorsEntry>();
  for (const [name, e] of file.tensors) byName.set(opts.rename ? opts.rename(name) : name, e);
  const problems: string[] = [];
  const plan: Array<[Variable, SafetensorsEntry]> = [];
  const seen = new Set<string>();
  for (const v of vars) {
    const name = v.name ?? '';
    if (seen.has(name)) {
      problems.push(`two model weights are named '${name}'`);
      continue;
    }
    seen.add(name);
    const e = byName.get(name);
    if (!e) {
      problems.push(`missing '${name}' (shape ${fmtShape(v.shape)})`);
      continue;
    }
    const sameShape = e.shape.length === v.shape.length && e.shape.every((d, i) => d === v.shape[i]);
    if (!sameShape)
      problems.push(
        `'${name}' has shape ${fmtShape(e.shape)} in the file, the model needs ${fmtShape(v.shape)}`,
      );
    const okDtype = v.dtype === 'float32' ? FLOAT_DTYPES.has(e.dtype) : INT_DTYPES.has(e.dtype);
    if (!okDtype) problems.push(`'${name}' has dtype ${e.dtype} in the file, the model needs ${v.dtype}`);
    if (sameShape && okDtype) plan.push([v, e]);
  }
  if (opts.strict ?? true) {
    for (const name of byName.keys())
      if (!seen.has(name)) problems.push(`unexpected '${name}' (no such weight in the model)`);
  }
  if (problems.length) {
    const shown = problems.slice(0, 20).join('; ');
    const more = problems.length > 20 ? `; ... and ${problems.length - 20} more` : '';
    throw new WeightsFormatError(`loadWeights${where}: ${problems.length} problem(s): ${shown}${more}`);
  }
  for (const [v, e] of plan) {
    const data = v.dtype === 'float32' ? toFloat32(e) : toInt32(e);
    const t = tensor(data, v.shape, v.dtype);
    v.assign(t);
    t.dispose();
  }
}
