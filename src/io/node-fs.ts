// Node's readFile, behind a module of our own so browser bundles can replace it (scripts/build.mjs).
import { readFile } from 'node:fs/promises';

export async function readTextFile(path: string | URL): Promise<string> {
  return readFile(path, 'utf8');
}

export async function readBinaryFile(path: string | URL): Promise<Uint8Array> {
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
