import { ArgumentError } from './errors.js';

/**
 * Every option name of an options type, as an object (`{ epochs: true, batchSize: true }`), so the
 * compiler checks that the list of accepted names matches the type: a name missing from the list
 * or not in the type is a type error.
 */
export type OptionKeys<T> = { readonly [K in keyof Required<T>]: true };

/** Keras's snake_case spelling to our camelCase one: `validation_split` -> `validationSplit`. */
function camelCase(key: string): string {
  return key.replace(/[_-]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Levenshtein distance, case-insensitive (option names are short). */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length];
}

/** Keras / tf.data names whose camelCase differs from ours. */
const RENAMED: Readonly<Record<string, string>> = {
  num_parallel_calls: 'parallel',
  numParallelCalls: 'parallel',
};

/** The accepted name a misspelt one most likely meant, if any is close enough. */
function suggest(key: string, names: readonly string[]): string | undefined {
  if (Object.hasOwn(RENAMED, key) && names.includes(RENAMED[key])) return RENAMED[key];
  const camel = camelCase(key);
  const exact = names.find((n) => n === camel || n.toLowerCase() === camel.toLowerCase());
  if (exact) return exact;
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(camel.length / 4)) + 1;
  for (const n of names) {
    const d = distance(camel, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best;
}

/**
 * Rejects option names the function does not know, so `fit(x, y, { validation_split: 0.2 })` from
 * plain JavaScript fails instead of silently training on the defaults. `opts` undefined passes;
 * anything but a plain object fails. The error names the function, the unknown key, the camelCase
 * name it most likely meant, and the accepted names.
 */
export function checkOptions<T>(opts: unknown, keys: OptionKeys<T>, where: string, what = 'options'): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new ArgumentError(
      `${where}: ${what} must be an object, got ${Array.isArray(opts) ? 'an array' : opts === null ? 'null' : typeof opts}`,
    );
  }
  const names = Object.keys(keys);
  const unknown = Object.keys(opts).filter((k) => !Object.hasOwn(keys, k));
  if (unknown.length === 0) return;
  const parts = unknown.map((k) => {
    const s = suggest(k, names);
    return s ? `'${k}' (did you mean '${s}'?)` : `'${k}'`;
  });
  throw new ArgumentError(
    `${where}: unknown ${unknown.length === 1 ? 'option' : 'options'} ${parts.join(', ')}; ${what} are ${names.map((n) => `'${n}'`).join(', ')}`,
  );
}
