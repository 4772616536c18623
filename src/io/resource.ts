/**
 * Reading model files from wherever the program runs: a file path in Node, a URL (http:, https:,
 * blob:, data:, or any path) in a browser. Node's file helpers are imported lazily, so browser
 * bundles never load `node:fs`.
 */
import { ArgumentError } from '../tensor/errors.js';
import { WeightsFormatError } from './errors.js';
import { type ParsedSafetensors, parseSafetensors } from './safetensors.js';

/** A file path (Node) or a URL (both). */
export type Source = string | URL;

function inNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/** True when `source` is read with fetch: a URL object or scheme, or any string outside Node. */
export function isFetched(source: Source): boolean {
  if (source instanceof URL) return source.protocol !== 'file:';
  if (/^(https?|blob|data):/i.test(source)) return true;
  return !inNode();
}

/** A file path for Node's fs: `file:` URLs (objects or strings) become paths. */
function fsPath(source: Source): string | URL {
  if (typeof source === 'string' && /^file:/i.test(source)) return new URL(source);
  return source;
}

function checkSource(fn: string, arg: string, source: unknown): asserts source is Source {
  if (source instanceof URL) return;
  if (typeof source !== 'string' || source === '') {
    throw new ArgumentError(`${fn}: ${arg} must be a non-empty path or URL, got ${JSON.stringify(source)}`);
  }
}

async function fetchBytes(fn: string, source: Source): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(source);
  } catch (e) {
    throw new ArgumentError(`${fn}: cannot fetch ${String(source)}: ${(e as Error).message}`);
  }
  if (!res.ok)
    throw new ArgumentError(`${fn}: fetching ${String(source)} gave HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Reads a UTF-8 text file or URL. Errors name the function and the source. */
export async function readText(fn: string, source: Source): Promise<string> {
  checkSource(fn, 'path', source);
  if (isFetched(source)) return new TextDecoder().decode(await fetchBytes(fn, source));
  const fs = await import('./node-fs.js');
  try {
    return await fs.readTextFile(fsPath(source));
  } catch (e) {
    throw new ArgumentError(`${fn}: cannot read ${String(source)}: ${(e as Error).message}`);
  }
}

/** Reads a binary file or URL whole. Errors name the function and the source. */
export async function readBytes(fn: string, source: Source): Promise<Uint8Array> {
  checkSource(fn, 'source', source);
  if (isFetched(source)) return fetchBytes(fn, source);
  const fs = await import('./node-fs.js');
  try {
    return await fs.readBinaryFile(fsPath(source));
  } catch (e) {
    throw new ArgumentError(`${fn}: cannot read ${String(source)}: ${(e as Error).message}`);
  }
}

/** In Node, the entries of a local directory `source`; undefined for files, URLs and in browsers. */
export async function listLocalDirectory(source: Source): Promise<string[] | undefined> {
  if (isFetched(source)) return undefined;
  const fs = await import('./node-fs.js');
  return fs.listDirectory(fsPath(source));
}

/** Reads and validates a safetensors file or URL (Node files are checked before they are read whole). */
export async function readSafetensors(fn: string, source: Source): Promise<ParsedSafetensors> {
  checkSource(fn, 'path', source);
  if (!isFetched(source)) {
    const io = await import('./weights-file.js');
    const p = fsPath(source);
    return io.readSafetensorsFile(p instanceof URL ? decodeURIComponent(p.pathname) : p);
  }
  const bytes = await fetchBytes(fn, source);
  if (bytes.length === 0)
    throw new WeightsFormatError(`safetensors: ${String(source)}: the response is empty`);
  return parseSafetensors(bytes, { source: String(source) });
}

/** `base` with its last path segment replaced by `name` (works for paths and URLs). */
export function sibling(base: Source, name: string): Source {
  if (base instanceof URL) return new URL(name, base);
  const i = base.lastIndexOf('/');
  return i < 0 ? name : `${base.slice(0, i + 1)}${name}`;
}
