import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArgumentError } from '../tensor/errors.js';

/**
 * The file listing of Keras' `image_dataset_from_directory` (`dataset_utils.index_directory`):
 * class names are the sorted sub-folders not starting with '.', each class folder is walked
 * recursively like `os.walk` (roots in path order, files sorted, symlinked folders not entered),
 * and files are kept by extension. Special files (FIFOs, sockets...) are left out. Node only.
 */

export const IMAGE_EXTENSIONS = ['.bmp', '.gif', '.jpeg', '.jpg', '.png'];

/** Python's `str` ordering (code points), which differs from JS `<` only for astral characters. */
function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** Whether `p` is a directory (following symlinks, as Python's `os.path.isdir`). */
export async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

/**
 * Image files under `base/rel`, relative to `base`, in Keras' `os.walk` order: directories by
 * their full paths, then each directory's files sorted; symlinked directories are not entered.
 */
async function walk(base: string, rel: string): Promise<string[]> {
  const roots: string[] = [];
  const collect = async (r: string): Promise<void> => {
    roots.push(r);
    for (const e of await readdir(join(base, r), { withFileTypes: true })) {
      if (e.isDirectory()) await collect(join(r, e.name));
    }
  };
  await collect(rel);
  const out: string[] = [];
  for (const r of roots.sort((a, b) => byCodePoint(join(base, a), join(base, b)))) {
    const files: string[] = [];
    for (const e of await readdir(join(base, r), { withFileTypes: true })) {
      if (!IMAGE_EXTENSIONS.some((f) => e.name.toLowerCase().endsWith(f))) continue;
      const regular =
        e.isFile() || (e.isSymbolicLink() && (await stat(join(base, r, e.name)).catch(() => null))?.isFile());
      if (regular) files.push(e.name);
    }
    for (const f of files.sort(byCodePoint)) out.push(join(r, f));
  }
  return out;
}

export interface Index {
  files: string[];
  labels: Int32Array | null;
  classNames: string[] | null;
}

export async function indexDirectory(
  dir: string,
  labelled: boolean,
  wanted: readonly string[] | undefined,
): Promise<Index> {
  if (!labelled) {
    if (wanted)
      throw new ArgumentError(`imageDatasetFromDirectory: classNames cannot be given with labelMode null`);
    return { files: (await walk(dir, '')).map((f) => join(dir, f)), labels: null, classNames: null };
  }
  const subdirs: string[] = [];
  for (const name of (await readdir(dir)).sort(byCodePoint)) {
    if (!name.startsWith('.') && (await isDir(join(dir, name)))) subdirs.push(name);
  }
  let classNames = subdirs;
  if (wanted) {
    const missing = wanted.filter((c) => !subdirs.includes(c));
    if (missing.length > 0 || new Set(wanted).size !== wanted.length) {
      throw new ArgumentError(
        `imageDatasetFromDirectory: classNames must be distinct sub-folders of '${dir}' (${JSON.stringify(subdirs)}), got ${JSON.stringify(wanted)}`,
      );
    }
    classNames = [...wanted];
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++) {
    for (const f of await walk(join(dir, classNames[c]), '')) {
      files.push(join(dir, classNames[c], f));
      labels.push(c);
    }
  }
  return { files, labels: Int32Array.from(labels), classNames };
}
