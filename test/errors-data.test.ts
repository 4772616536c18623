import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  CachedDataset,
  Dataset,
  DecodePool,
  decodeAndResize,
  decodeImage,
  imageDatasetFromDirectory,
  loadImage,
  loadTensorsFile,
  parseSafetensors,
  readImageHeader,
  readSafetensorsFile,
  resizeBilinearCpu,
  resizeImageCpu,
  saveTensorsFile,
  serializeSafetensors,
  sniffFormat,
  toFloat32,
  toInt32,
  writeFileAtomic,
} from '../src/node.js';
import { ownedBy } from './error-audit.js';
import { type BadCall, bad, badCalls } from './error-helpers.js';

/*
 * Error paths of datasets, image decoding and resizing, safetensors and file helpers that the
 * family tests do not reach: options of the wrong kind, missing arguments, paths that are not
 * strings. File-system errors (ENOENT...) keep Node's error and its `code` on purpose.
 */

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-errors-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const nowhere = join(dir, 'no-such-dir');
const junk = new Uint8Array([1, 2, 3]);
const img1 = { width: 1, height: 1, channels: 1, data: [7] };
const ds = () => Dataset.from([1, 2, 3]);
const idfd = (opts: object) => imageDatasetFromDirectory(nowhere, { verbose: false, ...opts });

const calls: BadCall[] = [
  bad('loadImage', 'a number', () => loadImage(42 as never), ArgumentError, 'source', 'got number'),
  bad('loadImage', 'an empty path', () => loadImage(''), ArgumentError, 'source', 'got ""'),
  bad(
    'loadImage',
    'a one-number size',
    () => loadImage(junk, { size: [224] as never }),
    ArgumentError,
    'size must be [height, width]',
    '[224]',
  ),
  bad(
    'loadImage',
    'a snake_case option',
    () => loadImage(junk, { target_size: [2, 2] } as never),
    ArgumentError,
    "unknown option 'target_size'",
  ),
  bad(
    'loadImage',
    'maxPixels 0',
    () => loadImage(junk, { maxPixels: 0 }),
    ArgumentError,
    'maxPixels',
    'got 0',
  ),
  bad(
    'loadImage',
    'a crop without a size',
    () => loadImage(junk, { cropToAspectRatio: true }),
    ArgumentError,
    'need a size',
  ),
  bad(
    'loadImage',
    'a missing file',
    () => loadImage(join(nowhere, 'x.jpg')),
    ArgumentError,
    'cannot read',
    'x.jpg',
  ),
  bad('Dataset.from', 'a number', () => Dataset.from(42 as never), ArgumentError, 'iterable', 'got number'),
  bad(
    'Dataset.batch',
    'a string dropRemainder',
    () => ds().batch(2, { dropRemainder: 'y' as never }),
    ArgumentError,
    'dropRemainder',
    '"y"',
  ),
  bad(
    'Dataset.shuffle',
    'a numeric reshuffleEachIteration',
    () => ds().shuffle(2, 1, { reshuffleEachIteration: 1 as never }),
    ArgumentError,
    'reshuffleEachIteration',
    'got 1',
  ),
  bad(
    'Dataset.forEachAsync',
    'a non-function',
    () => ds().forEachAsync(3 as never),
    ArgumentError,
    'fn must be a function',
  ),
  bad(
    'Dataset.cache',
    'a number for filename',
    () => ds().cache(3 as never),
    ArgumentError,
    'filename',
    'got 3',
  ),
  bad(
    'CachedDataset',
    'a number for the source',
    () => new CachedDataset(3 as never),
    ArgumentError,
    'expected a function',
  ),
  bad(
    'sniffFormat',
    'null',
    () => sniffFormat(null as never),
    ArgumentError,
    'bytes must be a Uint8Array',
    'got null',
  ),
  bad(
    'readImageHeader',
    'an array',
    () => readImageHeader([1, 2] as never),
    ArgumentError,
    'bytes must be a Uint8Array',
  ),
  bad(
    'decodeImage',
    'null options',
    () => decodeImage(junk, null as never),
    ArgumentError,
    'options',
    'null',
  ),
  bad(
    'decodeAndResize',
    'no options',
    () => decodeAndResize(junk, undefined as never),
    ArgumentError,
    'options { size',
    'undefined',
  ),
  bad(
    'decodeAndResize',
    'an infinite size (checked before decoding)',
    () => decodeAndResize(junk, { size: [Infinity, 2] as never }),
    ArgumentError,
    'size must be [height, width]',
    '[null,2]',
  ),
  bad(
    'resizeBilinearCpu',
    'null',
    () => resizeBilinearCpu(null as never, [2, 2]),
    ArgumentError,
    'img must be',
    'got null',
  ),
  bad(
    'resizeImageCpu',
    'an unknown interpolation',
    () => resizeImageCpu(img1, [2, 2], { interpolation: 'cubic' as never }),
    ArgumentError,
    "interpolation must be one of 'bilinear', 'nearest'",
    'got "cubic"',
  ),
  bad(
    'resizeImageCpu',
    'antialias not a boolean',
    () => resizeImageCpu(img1, [2, 2], { antialias: 1 as never }),
    ArgumentError,
    'antialias must be a boolean',
    'got 1',
  ),
  bad(
    'resizeImageCpu',
    'null image',
    () => resizeImageCpu(null as never, [2, 2]),
    ArgumentError,
    'resizeImageCpu: img must be',
    'got null',
  ),
  bad(
    'decodeImage',
    'an unknown dctMethod',
    () => decodeImage(junk, { dctMethod: 'FLOAT' as never }),
    ArgumentError,
    "dctMethod must be 'INTEGER_FAST' or 'INTEGER_ACCURATE'",
    'got "FLOAT"',
  ),
  bad(
    'decodeImage',
    'applyExifOrientation not a boolean',
    () => decodeImage(junk, { applyExifOrientation: 'yes' as never }),
    ArgumentError,
    'applyExifOrientation must be a boolean',
    'got "yes"',
  ),
  bad(
    'parseSafetensors',
    'null',
    () => parseSafetensors(null as never),
    ArgumentError,
    'bytes must be a Uint8Array',
    'got null',
  ),
  bad(
    'serializeSafetensors',
    'null',
    () => serializeSafetensors(null as never),
    ArgumentError,
    'tensors must be an array',
    'got null',
  ),
  bad(
    'toFloat32',
    'null',
    () => toFloat32(null as never),
    ArgumentError,
    'entry must be a safetensors entry',
    'got null',
  ),
  bad(
    'toInt32',
    'undefined',
    () => toInt32(undefined as never),
    ArgumentError,
    'entry must be a safetensors entry',
    'got undefined',
  ),
  bad(
    'readSafetensorsFile',
    'a number for path',
    () => readSafetensorsFile(3 as never),
    ArgumentError,
    'path must be a non-empty string',
    'got 3',
  ),
  bad(
    'loadTensorsFile',
    'an empty path',
    () => loadTensorsFile(''),
    ArgumentError,
    'path must be a non-empty string',
    '""',
  ),
  bad(
    'saveTensorsFile',
    'a number for path',
    () => saveTensorsFile(3 as never, {}),
    ArgumentError,
    'path',
    'got 3',
  ),
  bad(
    'saveTensorsFile',
    'null tensors',
    () => saveTensorsFile(join(dir, 'a.safetensors'), null as never),
    ArgumentError,
    'tensors must be a Map or an object',
  ),
  bad(
    'writeFileAtomic',
    'a number for path',
    () => writeFileAtomic(3 as never, new Uint8Array(1)),
    ArgumentError,
    'path',
    'got 3',
  ),
  bad(
    'writeFileAtomic',
    'onProgress that is not a function',
    () => writeFileAtomic(join(dir, 'w.bin'), new Uint8Array(1), { onProgress: 3 as never }),
    ArgumentError,
    'onProgress must be a function',
  ),
  bad(
    'imageDatasetFromDirectory',
    'null options',
    () => imageDatasetFromDirectory(nowhere, null as never),
    ArgumentError,
    'options must be an object',
    'null',
  ),
  bad(
    'imageDatasetFromDirectory',
    'a string shuffle',
    () => idfd({ shuffle: 'no' }),
    ArgumentError,
    'shuffle must be a boolean',
    '"no"',
  ),
  bad(
    'imageDatasetFromDirectory',
    'a string verbose',
    () => imageDatasetFromDirectory(nowhere, { verbose: 'x' as never }),
    ArgumentError,
    'verbose',
    '"x"',
  ),
  bad(
    'imageDatasetFromDirectory',
    'an unknown interpolation',
    () => idfd({ interpolation: 'linear' }),
    ArgumentError,
    'imageDatasetFromDirectory: interpolation must be one of',
    'got "linear"',
  ),
  bad(
    'imageDatasetFromDirectory',
    'a string applyExifOrientation',
    () => idfd({ applyExifOrientation: 'true' }),
    ArgumentError,
    'applyExifOrientation must be a boolean',
    'got "true"',
  ),
  bad(
    'imageDatasetFromDirectory',
    'a numeric cropToAspectRatio',
    () => idfd({ cropToAspectRatio: 1 }),
    ArgumentError,
    'cropToAspectRatio',
    'got 1',
  ),
  bad(
    'imageDatasetFromDirectory',
    'classNames as a string',
    () => idfd({ classNames: 'cats' }),
    ArgumentError,
    'classNames must be an array',
    '"cats"',
  ),
  bad(
    'imageDatasetFromDirectory',
    'onWarning that is not a function',
    () => idfd({ onWarning: 3 }),
    ArgumentError,
    'onWarning must be a function',
  ),
  bad(
    'DecodePool',
    'null options',
    () => new DecodePool(null as never),
    ArgumentError,
    'expected an options object',
    'null',
  ),
  bad(
    'DecodePool',
    'an infinite size',
    () => new DecodePool({ size: Infinity }),
    ArgumentError,
    'size must be a positive integer',
    'Infinity',
  ),
];

describe('datasets, decoding, safetensors and files', () => {
  badCalls(calls);

  it('every data export owned by this file has a bad call', () => {
    const covered = new Set(calls.map((c) => c.exportName ?? c.names.split('.')[0]));
    expect(ownedBy('errors-data').filter((n) => !covered.has(n))).toEqual([]);
  });

  it('writeFileAtomic rejects a bad onProgress before creating its temp file', async () => {
    await expect(
      writeFileAtomic(join(dir, 'w2.bin'), new Uint8Array(1), { onProgress: 'x' as never }),
    ).rejects.toThrow(ArgumentError);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('DecodePool.run rejects a malformed job instead of crashing the process, and keeps working', async () => {
    const pool = new DecodePool({ size: 1 });
    try {
      await expect(pool.run(null as never)).rejects.toThrow(ArgumentError);
      await expect(pool.run({ path: 'a.jpg', height: 0, width: 4 })).rejects.toThrow(
        /DecodePool.run: job must be \{ path: string, height, width: positive integers \}, got .*"height":0/,
      );
      const job = { path: 'a.jpg', height: 4, width: 4 };
      await expect(pool.run({ ...job, interpolation: 'cubic' as never })).rejects.toThrow(
        /DecodePool.run: interpolation must be one of .*got "cubic"/,
      );
      await expect(pool.run({ ...job, dctMethod: 'slow' as never })).rejects.toThrow(
        /DecodePool.run: dctMethod must be 'INTEGER_FAST' or 'INTEGER_ACCURATE', got "slow"/,
      );
      // A well-formed job for a missing file fails as that file, through a real worker.
      await expect(pool.run({ path: join(dir, 'missing.jpg'), height: 4, width: 4 })).rejects.toThrow(
        /missing\.jpg/,
      );
      expect(pool.pending).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
