import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type AdapterKey, adapterId, type TuneStore } from '../kernels/tune-cache.js';
import { ensureParentDir, writeFileAtomic } from './weights-file.js';

/**
 * The Node store of the autotune winners: one JSON file per adapter,
 * `$XDG_CACHE_HOME/wgsl-nn/tuning-<adapter>.json` (XDG_CACHE_HOME defaults to ~/.cache), written
 * atomically. The folder is read from the environment at each access, so tests can point it
 * elsewhere.
 */

/** The folder that holds the tuning files. */
export function tuneCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(homedir(), '.cache'), 'wgsl-nn');
}

const fileOf = (a: AdapterKey) => join(tuneCacheDir(), `tuning-${adapterId(a)}.json`);

export const fileTuneStore: TuneStore = {
  where: fileOf,
  read(a) {
    try {
      return readFileSync(fileOf(a), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  },
  async write(a, text) {
    const path = fileOf(a);
    await ensureParentDir(path, 'autotune');
    await writeFileAtomic(path, new TextEncoder().encode(text));
  },
};
