import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memory, type Tensor, tensor } from '../src/index.js';
import { WeightsFormatError } from '../src/io/errors.js';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../src/io/safetensors.js';
import {
  loadTensorsFile,
  readSafetensorsFile,
  saveTensorsFile,
  writeFileAtomic,
} from '../src/io/weights-file.js';
import { ArgumentError, DisposedTensorError, DTypeError } from '../src/tensor/errors.js';
import { randArray, randInts, rng } from './helpers.js';
import { weightsDir } from './shared-data.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-weights-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tempFiles = (d = dir) => readdirSync(d).filter((f) => f.endsWith('.tmp'));

/** A file with a raw JSON header (no padding) and raw data. */
function rawFile(header: unknown, data: Uint8Array, n?: bigint): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const disposeAll = (m: Map<string, Tensor>) => {
  for (const t of m.values()) t.dispose();
};

describe('saveTensorsFile / loadTensorsFile', () => {
  it('round-trips float32, int32 and bool tensors, scalars and empty tensors, in order', async () => {
    const r = rng(3);
    const before = memory().numTensors;
    const src = new Map<string, Tensor>([
      ['dense/kernel', tensor(randArray(24, r, -5, 5), [2, 3, 4])],
      ['ids', tensor(randInts(5, r, -100, 100), [5], 'int32')],
      ['mask', tensor([true, false, false, true], [2, 2], 'bool')],
      ['scalar', tensor(2.5, [])],
      ['empty', tensor(new Float32Array(0), [0, 3])],
      ['empty_i', tensor(new Int32Array(0), [0], 'int32')],
    ]);
    const path = join(dir, 'roundtrip.safetensors');
    await saveTensorsFile(path, src, { epoch: '3' });
    expect(tempFiles()).toEqual([]);

    const header = parseSafetensors(readFileSync(path));
    expect([...header.tensors.values()].map((e) => e.dtype)).toEqual([
      'F32',
      'I32',
      'BOOL',
      'F32',
      'F32',
      'I32',
    ]);

    const { tensors, metadata } = await loadTensorsFile(path);
    expect({ ...metadata }).toEqual({ epoch: '3' });
    expect([...tensors.keys()]).toEqual([...src.keys()]);
    for (const [name, t] of src) {
      const back = tensors.get(name)!;
      expect(back.dtype, name).toBe(t.dtype);
      expect(back.shape, name).toEqual(t.shape);
      expect(await back.data(), name).toEqual(await t.data());
    }
    disposeAll(tensors);
    disposeAll(src);
    expect(memory().numTensors).toBe(before);
  });

  it('accepts a plain object and converts F16, F64, I64, U8 and BOOL files', async () => {
    const path = join(dir, 'record.safetensors');
    const a = tensor([1, 2, 3]);
    await saveTensorsFile(path, { a });
    const loaded = await loadTensorsFile(path);
    expect(Array.from(await loaded.tensors.get('a')!.data())).toEqual([1, 2, 3]);
    disposeAll(loaded.tensors);
    a.dispose();

    const data = new Uint8Array([
      ...new Uint8Array(Uint16Array.of(0x3c00, 0xc000).buffer), // F16 1, -2
      ...new Uint8Array(BigInt64Array.of(-7n, 2147483647n).buffer),
      ...new Uint8Array(Float64Array.of(0.1).buffer),
      ...[0, 200, 255, 1, 0],
    ]);
    const header = {
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      l: { dtype: 'I64', shape: [2, 1], data_offsets: [4, 20] },
      d: { dtype: 'F64', shape: [], data_offsets: [20, 28] },
      u: { dtype: 'U8', shape: [3], data_offsets: [28, 31] },
      b: { dtype: 'BOOL', shape: [2], data_offsets: [31, 33] },
    };
    writeFileSync(join(dir, 'mixed.safetensors'), rawFile(header, data));
    const { tensors } = await loadTensorsFile(join(dir, 'mixed.safetensors'));
    const get = async (k: string) => {
      const t = tensors.get(k)!;
      return { dtype: t.dtype, shape: t.shape, values: Array.from(await t.data()) };
    };
    expect(await get('h')).toEqual({ dtype: 'float32', shape: [2], values: [1, -2] });
    expect(await get('l')).toEqual({ dtype: 'int32', shape: [2, 1], values: [-7, 2147483647] });
    expect(await get('d')).toEqual({ dtype: 'float32', shape: [], values: [Math.fround(0.1)] });
    expect(await get('u')).toEqual({ dtype: 'int32', shape: [3], values: [0, 200, 255] });
    expect(await get('b')).toEqual({ dtype: 'bool', shape: [2], values: [1, 0] });
    disposeAll(tensors);
  });

  it('fails without leaking tensors on dtypes it cannot load, naming path and tensor', async () => {
    const before = memory().numTensors;
    const ok = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
    const c64 = join(dir, 'c64.safetensors');
    writeFileSync(
      c64,
      rawFile({ ok, z: { dtype: 'C64', shape: [1], data_offsets: [4, 12] } }, new Uint8Array(12)),
    );
    await expect(loadTensorsFile(c64)).rejects.toThrow(DTypeError);
    await expect(loadTensorsFile(c64)).rejects.toThrow(
      `loadTensorsFile: ${c64}: tensor "z" has dtype C64, which has no float32, int32 or bool equivalent`,
    );
    const big = join(dir, 'big-i64.safetensors');
    const i64 = new Uint8Array(BigInt64Array.of(2n ** 40n).buffer);
    writeFileSync(
      big,
      rawFile(
        { ok, l: { dtype: 'I64', shape: [1], data_offsets: [4, 12] } },
        new Uint8Array([0, 0, 0, 0, ...i64]),
      ),
    );
    await expect(loadTensorsFile(big)).rejects.toThrow(WeightsFormatError);
    await expect(loadTensorsFile(big)).rejects.toThrow(
      /tensor "l" \(I64\) element 0 is 1099511627776, outside the int32 range/,
    );
    expect(memory().numTensors).toBe(before);
  });

  it('refuses disposed tensors and non-tensors, leaving the file alone', async () => {
    const path = join(dir, 'keep.safetensors');
    const a = tensor([1, 2]);
    await saveTensorsFile(path, { a });
    const before = readFileSync(path);
    const gone = tensor([3]);
    gone.dispose();
    await expect(saveTensorsFile(path, { a, gone })).rejects.toThrow(DisposedTensorError);
    await expect(saveTensorsFile(path, { a, x: [1] as unknown as Tensor })).rejects.toThrow(
      /saveTensorsFile: tensors\["x"\] must be a Tensor/,
    );
    await expect(saveTensorsFile(path, { a, x: [1] as unknown as Tensor })).rejects.toThrow(ArgumentError);
    expect(readFileSync(path)).toEqual(before);
    a.dispose();
  });
});

describe('readSafetensorsFile', () => {
  it('rejects short files and lying header lengths, naming the path', async () => {
    const short = join(dir, 'short.safetensors');
    writeFileSync(short, Uint8Array.of(1, 2, 3, 4, 5));
    await expect(readSafetensorsFile(short)).rejects.toThrow(
      `safetensors: ${short}: file is 5 bytes, shorter than the 8-byte header length`,
    );
    const huge = join(dir, 'huge-header.safetensors');
    writeFileSync(huge, rawFile({}, new Uint8Array(0), 2n ** 60n));
    await expect(readSafetensorsFile(huge)).rejects.toThrow(WeightsFormatError);
    await expect(readSafetensorsFile(huge)).rejects.toThrow('exceeds the limit of 100000000 bytes');
    const past = join(dir, 'past.safetensors');
    writeFileSync(past, rawFile({}, new Uint8Array(0), 1000n));
    await expect(readSafetensorsFile(past)).rejects.toThrow(
      `${past}: header length 1000 bytes runs past the end`,
    );
    const bad = join(dir, 'bad-tensor.safetensors');
    writeFileSync(bad, rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)));
    await expect(readSafetensorsFile(bad)).rejects.toThrow(
      `safetensors: ${bad}: tensor "w": shape [3] of F32 needs 12 bytes`,
    );
  });

  it('checks the header length against the file size before allocating the file buffer', async () => {
    // An 8 GiB sparse file whose header length runs 4 bytes past the end: reading it into memory
    // first would fail with a RangeError (or exhaust memory); the check must come first.
    const path = join(dir, 'sparse.safetensors');
    const size = 2 ** 33;
    const fd = openSync(path, 'w');
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(size - 4), true);
    writeSync(fd, len, 0, 8, 0);
    ftruncateSync(fd, size);
    closeSync(fd);
    await expect(readSafetensorsFile(path, { maxHeaderBytes: 2 ** 40 })).rejects.toThrow(
      `header length ${size - 4} bytes runs past the end of the file (${size} bytes)`,
    );
    rmSync(path);
  });
});

describe('writeFileAtomic', () => {
  it('writes new files and replaces old ones, keeping their permission bits', async () => {
    const path = join(dir, 'plain.bin');
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect(Array.from(readFileSync(path))).toEqual([1, 2, 3]);
    chmodSync(path, 0o640);
    const big = new Uint8Array(100_003).map((_, i) => i * 7);
    await writeFileAtomic(path, big, { chunkBytes: 4096 });
    expect(readFileSync(path).equals(big)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    await writeFileAtomic(path, new Uint8Array(0));
    expect(readFileSync(path).length).toBe(0);
    expect(tempFiles()).toEqual([]);
    await expect(writeFileAtomic(path, big, { chunkBytes: 0 })).rejects.toThrow(ArgumentError);
  });

  it('a failure mid-write leaves the previous file intact and loadable and removes the temp file', async () => {
    const path = join(dir, 'model.safetensors');
    const v1 = tensor(randArray(64, rng(5)), [8, 8]);
    await saveTensorsFile(path, { w: v1 }, { version: '1' });
    const v1bytes = readFileSync(path);

    const v2 = serializeSafetensors([
      { name: 'w', dtype: 'F32', shape: [4096], data: new Float32Array(4096).fill(2) },
    ]);
    const seenDuringWrite: number[] = [];
    await expect(
      writeFileAtomic(path, v2, {
        chunkBytes: 1000,
        onProgress: (written) => {
          const tmp = tempFiles();
          expect(tmp).toHaveLength(1); // the new bytes go to a temp file, not the target
          seenDuringWrite.push(statSync(join(dir, tmp[0])).size);
          if (written >= 3000) throw new Error('simulated crash after 3000 bytes');
        },
      }),
    ).rejects.toThrow('simulated crash after 3000 bytes');
    expect(seenDuringWrite).toEqual([1000, 2000, 3000]);
    expect(tempFiles()).toEqual([]);
    expect(readFileSync(path).equals(v1bytes)).toBe(true);
    const { tensors, metadata } = await loadTensorsFile(path);
    expect(metadata.version).toBe('1');
    expect(await tensors.get('w')!.data()).toEqual(await v1.data());
    disposeAll(tensors);
    v1.dispose();
  });

  it('a process killed mid-write (SIGKILL) never leaves a torn target', () => {
    const path = join(dir, 'killed.safetensors');
    const v1 = serializeSafetensors([
      { name: 'w', dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) },
    ]);
    writeFileSync(path, v1);
    const module = fileURLToPath(new URL('../src/io/weights-file.ts', import.meta.url));
    const script = `
      const { writeFileAtomic } = await import(${JSON.stringify(module)});
      await writeFileAtomic(${JSON.stringify(path)}, new Uint8Array(1 << 20).fill(9), {
        chunkBytes: 65536,
        onProgress: (w) => { if (w >= 4 * 65536) process.kill(process.pid, 'SIGKILL'); },
      });
      console.log('not killed');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stderr).not.toMatch(/Error/);
    expect(child.signal).toBe('SIGKILL');
    expect(readFileSync(path).equals(v1)).toBe(true);
    expect(Array.from(toFloat32(parseSafetensors(readFileSync(path)).tensors.get('w')!))).toEqual([1, 2, 3]);
    // A hard crash cannot clean up: the partial temp file is the only trace, under a .tmp name.
    const leftovers = tempFiles();
    expect(leftovers).toHaveLength(1);
    expect(leftovers[0]).toMatch(/^\.killed\.safetensors\.\d+\.[0-9a-f]{12}\.tmp$/);
    expect(statSync(join(dir, leftovers[0])).size).toBe(4 * 65536);
    rmSync(join(dir, leftovers[0]));
  });

  // Issue 15, bug 2: new files were chmod-ed to 0666 (world-writable), ignoring the umask.
  it("gives a new file the umask default mode and keeps an existing file's mode", async () => {
    const old = process.umask(0o022);
    try {
      const path = join(dir, 'mode.bin');
      await writeFileAtomic(path, Uint8Array.of(1));
      expect((statSync(path).mode & 0o777).toString(8)).toBe('644');
      chmodSync(path, 0o600);
      await writeFileAtomic(path, Uint8Array.of(2));
      expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
      chmodSync(path, 0o664);
      await writeFileAtomic(path, Uint8Array.of(3));
      expect((statSync(path).mode & 0o777).toString(8)).toBe('664');
      process.umask(0o077);
      const private_ = join(dir, 'mode-077.bin');
      await writeFileAtomic(private_, Uint8Array.of(1));
      expect((statSync(private_).mode & 0o777).toString(8)).toBe('600');
    } finally {
      process.umask(old);
    }
  });

  it('cleans up when the rename fails and when the directory is missing', async () => {
    const target = join(dir, 'is-a-dir');
    mkdirSync(join(target, 'inside'), { recursive: true });
    await expect(writeFileAtomic(target, Uint8Array.of(1))).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    expect(existsSync(join(target, 'inside'))).toBe(true);
    expect(tempFiles()).toEqual([]);
    const missing = join(dir, 'no-such-dir', 'x.bin');
    const err = (await writeFileAtomic(missing, Uint8Array.of(1)).catch(
      (e: unknown) => e,
    )) as NodeJS.ErrnoException;
    expect(err.code).toBe('ENOENT');
    expect(err.path).toBe(missing);
    expect(err.message).toBe(
      `writeFileAtomic: cannot write ${missing}: the folder ${join(dir, 'no-such-dir')} does not exist (ENOENT)`,
    );
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
  });
});

const mobilenetPath = join(weightsDir, 'mobilenet_v2_1.0_224_no_top.safetensors');
const haveMobilenet = existsSync(mobilenetPath);
if (!haveMobilenet)
  console.log(
    `weights-file: SKIPPING MobileNetV2 test: ${mobilenetPath} not found (set WGSL_NN_WEIGHTS_DIR)`,
  );

describe('shipped weights', () => {
  it.skipIf(!haveMobilenet)(
    `loads MobileNetV2 no_top into 260 GPU tensors${haveMobilenet ? '' : ` [skipped: ${mobilenetPath} absent]`}`,
    async () => {
      const { tensors, metadata } = await loadTensorsFile(mobilenetPath);
      expect(tensors.size).toBe(260);
      expect([...tensors.values()].reduce((s, t) => s + t.size, 0)).toBe(2_257_984);
      expect(metadata.bn_epsilon).toBe('0.001');
      const host = parseSafetensors(readFileSync(mobilenetPath));
      for (const name of ['Conv1/kernel', 'block_8_expand/kernel', 'Conv_1_bn/beta']) {
        const t = tensors.get(name)!;
        expect(t.dtype).toBe('float32');
        expect(await t.data(), name).toEqual(toFloat32(host.tensors.get(name)!));
      }
      disposeAll(tensors);
    },
  );
});
