/**
 * Node-only file helpers: read a safetensors file (refusing lying headers before allocating), write
 * files atomically, and move named GPU tensors to and from a file.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tensor } from '../tensor/creation.js';
import type { DType } from '../tensor/dtype.js';
import { ArgumentError, DTypeError } from '../tensor/errors.js';
import { checkOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { WeightsFormatError } from './errors.js';
import {
  type ParsedSafetensors,
  type ParseOptions,
  parseSafetensors,
  type SafetensorsEntry,
  type SerializableTensor,
  safetensorsHeaderLength,
  serializeSafetensors,
  toFloat32,
  toInt32,
} from './safetensors.js';

/** Options of the safetensors file readers. */
export interface ReadOptions {
  /** Refuse headers longer than this many bytes (default 100,000,000). */
  maxHeaderBytes?: number;
}

/**
 * Reads and validates a safetensors file. The header length is checked against the file size
 * before the file is read, so a hostile length cannot make us allocate. Entries are views of one
 * buffer holding the file. Errors name the path.
 */
/** File-system errors (ENOENT...) pass through with their `code`; a path that is not a string does not. */
function checkPath(path: unknown, fn: string): void {
  if (typeof path !== 'string' || path === '')
    throw new ArgumentError(`${fn}: path must be a non-empty string, got ${JSON.stringify(path)}`);
}

/** Reads and parses a safetensors file (Node): the tensors' bytes on the CPU, checked against the header. */
export async function readSafetensorsFile(path: string, opts: ReadOptions = {}): Promise<ParsedSafetensors> {
  checkPath(path, 'readSafetensorsFile');
  checkOptions<ReadOptions>(opts, { maxHeaderBytes: true }, 'readSafetensorsFile');
  const parseOpts: ParseOptions = { ...opts, source: path };
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const first8 = new Uint8Array(8);
    await readFully(fh, first8, 0, path);
    safetensorsHeaderLength(first8, size, parseOpts);
    const bytes = new Uint8Array(size);
    bytes.set(first8);
    await readFully(fh, bytes.subarray(8), 8, path);
    if ((await fh.read(new Uint8Array(1), 0, 1, size)).bytesRead !== 0) {
      throw new WeightsFormatError(`safetensors: ${path}: the file grew while it was read`);
    }
    return parseSafetensors(bytes, parseOpts);
  } finally {
    await fh.close();
  }
}

async function readFully(fh: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) {
      // A short file (< 8 bytes) is reported by the header check; anything else shrank under us.
      if (position === 0) return;
      throw new WeightsFormatError(`safetensors: ${path}: the file shrank while it was read`);
    }
    done += bytesRead;
  }
}

/** Options of `writeFileAtomic`. */
export interface AtomicWriteOptions {
  /** Bytes per write call (default 8 MiB). */
  chunkBytes?: number;
  /**
   * Called after each chunk reaches the temp file. Throwing aborts the write: the temp file is
   * removed and the target is untouched (tests use it to simulate a crash mid-write).
   */
  onProgress?: (written: number, total: number) => void;
}

/**
 * Replaces `path` with `bytes` so that readers (and a crash at any moment) see either the old file
 * or the new one, never a torn mix: write a temp file in the same directory, fsync it, rename it
 * over the target, fsync the directory. An existing target keeps its permission bits; a new file
 * gets the umask's default (0644 under umask 022). On error the temp file is removed and the error
 * names `path` (with the file-system `code`: ENOENT when the folder is missing); a hard crash
 * (power loss, SIGKILL) can leave a `.<name>.*.tmp` file behind.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  checkPath(path, 'writeFileAtomic');
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`writeFileAtomic: bytes must be a Uint8Array, got ${typeof bytes}`);
  }
  checkOptions<AtomicWriteOptions>(opts, { chunkBytes: true, onProgress: true }, 'writeFileAtomic');
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function')
    throw new ArgumentError(`writeFileAtomic: onProgress must be a function, got ${typeof opts.onProgress}`);
  const chunk = opts.chunkBytes ?? 8 << 20;
  if (!Number.isSafeInteger(chunk) || chunk < 1) {
    throw new ArgumentError(`writeFileAtomic: chunkBytes must be a positive integer, got ${chunk}`);
  }
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // A replaced file keeps its exact bits; a new one gets the umask's default (0o666 & ~umask).
  const kept = await stat(path).then(
    (s) => s.mode & 0o7777,
    () => undefined,
  );
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', kept ?? 0o666);
  } catch (e) {
    throw namingTarget(e, path);
  }
  try {
    if (kept !== undefined) await fh.chmod(kept); // 'wx' applied the umask to the kept bits
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await fh.write(bytes, done, Math.min(chunk, bytes.length - done), done);
      done += bytesWritten;
      opts.onProgress?.(done, bytes.length);
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw namingTarget(e, path);
  }
  await syncDir(dir);
}

/**
 * A file-system error about the temp file, restated for the path the caller gave (the temp name
 * means nothing to them). `code`, `errno` and `syscall` are kept; `path` is the caller's.
 */
function namingTarget(e: unknown, path: string, fn = 'writeFileAtomic'): unknown {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string') return e;
  const why: Record<string, string> = {
    ENOENT: `the folder ${dirname(path)} does not exist`,
    ENOTDIR: `a parent of ${path} is not a folder`,
    EACCES: `no permission to write in ${dirname(path)}`,
    EPERM: `no permission to write ${path}`,
    EROFS: `${dirname(path)} is on a read-only file system`,
    EISDIR: `${path} is a folder`,
    ENOSPC: 'the disk is full',
  };
  const out: NodeJS.ErrnoException = new Error(
    `${fn}: cannot write ${path}: ${why[err.code] ?? err.message.replace(/^\w+: /, '').replace(/, \w+ '.*'$/, '')} (${err.code})`,
    { cause: e },
  );
  out.code = err.code;
  out.errno = err.errno;
  out.syscall = err.syscall;
  out.path = path;
  return out;
}

/**
 * Creates the folder that will hold `path` (and its parents) when missing, as Keras's savers do.
 * A path whose parent exists as a file fails naming that path.
 */
export async function ensureParentDir(path: string, fn: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (e) {
    throw namingTarget(e, path, fn);
  }
}

/** Makes the rename durable. Some platforms (Windows) cannot open or fsync a directory: skip there. */
async function syncDir(dir: string): Promise<void> {
  let dh: FileHandle | undefined;
  try {
    dh = await open(dir, 'r');
    await dh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP'].includes(code ?? '')) throw e;
  } finally {
    await dh?.close();
  }
}

const FILE_DTYPE: Record<DType, SerializableTensor['dtype']> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

/**
 * Downloads named tensors from the GPU and writes them atomically as safetensors (float32 -> F32,
 * int32 -> I32, bool -> BOOL), in the order given. A missing folder is created (as Keras's savers do).
 */
export async function saveTensorsFile(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  checkPath(path, 'saveTensorsFile');
  if (tensors === null || typeof tensors !== 'object')
    throw new ArgumentError(
      `saveTensorsFile: tensors must be a Map or an object of named tensors, got ${tensors}`,
    );
  const named: [string, Tensor][] =
    tensors instanceof Map ? [...tensors] : Object.entries(tensors as Readonly<Record<string, Tensor>>);
  const list: SerializableTensor[] = [];
  for (const [name, t] of named) {
    if (typeof t?.assertAlive !== 'function') {
      throw new ArgumentError(`saveTensorsFile: tensors[${JSON.stringify(name)}] must be a Tensor`);
    }
    t.assertAlive(`saveTensorsFile: tensors[${JSON.stringify(name)}]`);
    const values = await t.data();
    const data = t.dtype === 'bool' ? Uint8Array.from(values, (v) => (v ? 1 : 0)) : values;
    list.push({ name, dtype: FILE_DTYPE[t.dtype], shape: [...t.shape], data });
  }
  await ensureParentDir(path, 'saveTensorsFile');
  await writeFileAtomic(path, serializeSafetensors(list, metadata));
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0']);
const INT_DTYPES = new Set(['I64', 'U64', 'I32', 'U32', 'I16', 'U16', 'I8', 'U8']);

/** The host values and our dtype for one file entry (float types -> float32, integers -> int32). */
function hostValues(entry: SafetensorsEntry): { values: Float32Array | Int32Array; dtype: DType } {
  if (FLOAT_DTYPES.has(entry.dtype)) return { values: toFloat32(entry), dtype: 'float32' };
  if (INT_DTYPES.has(entry.dtype)) return { values: toInt32(entry), dtype: 'int32' };
  if (entry.dtype === 'BOOL') return { values: toInt32(entry), dtype: 'bool' };
  throw new DTypeError(
    `tensor ${JSON.stringify(entry.name)} has dtype ${entry.dtype}, which has no float32, int32 or bool equivalent`,
  );
}

/**
 * Reads a safetensors file into GPU tensors: floating-point dtypes become float32, integer dtypes
 * int32 (values must fit), BOOL bool. Everything is converted before the first upload, and a failed
 * upload disposes what was created, so an error leaks no tensors.
 */
export async function loadTensorsFile(
  path: string,
  opts: ReadOptions = {},
): Promise<{
  /** The tensors, by name, on the GPU. */
  tensors: Map<string, Tensor>;
  /** The file's `__metadata__` strings. */
  metadata: Record<string, string>;
}> {
  checkPath(path, 'loadTensorsFile');
  checkOptions<ReadOptions>(opts, { maxHeaderBytes: true }, 'loadTensorsFile');
  const file = await readSafetensorsFile(path, opts);
  const host = new Map<string, ReturnType<typeof hostValues>>();
  for (const [name, entry] of file.tensors) {
    try {
      host.set(name, hostValues(entry));
    } catch (e) {
      if (!(e instanceof DTypeError || e instanceof WeightsFormatError)) throw e;
      const SameClass = e.constructor as new (message: string) => Error;
      throw new SameClass(`loadTensorsFile: ${path}: ${e.message}`);
    }
  }
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, { values, dtype }] of host)
      tensors.set(name, tensor(values, file.tensors.get(name)!.shape, dtype));
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return { tensors, metadata: file.metadata };
}
