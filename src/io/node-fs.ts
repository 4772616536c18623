// Node's fs, behind a module of our own so browser bundles can replace it (scripts/build.mjs).
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';

export async function readTextFile(path: string | URL): Promise<string> {
  return readFile(path, 'utf8');
}

export async function readBinaryFile(path: string | URL): Promise<Uint8Array> {
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The entries of `path` when it is a directory, else undefined (also when it does not exist). */
export async function listDirectory(path: string | URL): Promise<string[] | undefined> {
  try {
    if (!(await stat(path)).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  return readdir(path);
}

export async function makeDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
}

/** Removes the file `path` if it exists. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
