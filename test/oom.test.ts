import { afterEach, describe, expect, it } from 'vitest';
import {
  Adam,
  add,
  Dense,
  DeviceError,
  drainPool,
  getDevice,
  type LogSink,
  matmul,
  memory,
  relu,
  Sequential,
  setSeed,
  sync,
  tensor,
  zeros,
} from '../src/index.js';
import { randArray, rng } from './helpers.js';

/*
 * Out of GPU memory. lavapipe cannot be driven into a reported out-of-memory error safely: its
 * buffers are lazily committed memfd mappings (a 4 GiB buffer costs no RSS until touched, so
 * exhausting real memory means the kernel's OOM killer, not an error), and under an address-space
 * rlimit its failed mmap goes unnoticed and the process segfaults at first use. So the tests make
 * WebGPU itself fail the next storage-buffer creation: the descriptor is made invalid on its way to
 * the real device, Dawn reports a real GPUError through the pool's error scope and hands out an
 * invalid buffer, exactly as it does for an out-of-memory allocation; everything after that (the
 * rejected batch, the fault thrown at the next sync or readback, the quarantined buffer, recovery)
 * runs for real.
 */

const STORAGE = 0x80;
const MAP_READ = 0x01;
let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

/** Fails the next creation of a storage buffer inside WebGPU (MapRead with Storage is invalid). */
async function failNextStorageBuffer(): Promise<{ fired: () => boolean }> {
  const dev = await getDevice();
  const orig = dev.createBuffer;
  let armed = true;
  dev.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor): GPUBuffer {
    if (armed && desc.usage & STORAGE) {
      armed = false;
      return orig.call(this, { ...desc, usage: desc.usage | MAP_READ });
    }
    return orig.call(this, desc);
  };
  restore = () => {
    dev.createBuffer = orig;
  };
  return { fired: () => !armed };
}

/** GPU bytes held by live tensors (allocated minus pooled). */
function liveAllocated(): number {
  const m = memory();
  return m.allocatedBytes - m.pooledBytes;
}

const quiet: LogSink = { isTTY: false, write: () => {} };

describe('out of GPU memory', () => {
  it('a request over maxBufferSize throws DeviceError at once and allocates nothing', async () => {
    const max = (await getDevice()).limits.maxBufferSize;
    await sync();
    const before = memory();
    const n = Math.floor(max / 4) + 64; // 4 bytes per element
    expect(() => zeros([n])).toThrow(DeviceError);
    expect(() => zeros([n])).toThrow(new RegExp(`${n * 4}-byte tensor.*maxBufferSize is ${max}`));
    // Through an op: a broadcast whose output is too big.
    const a = zeros([65536, 1]);
    const b = zeros([1, Math.ceil(max / 4 / 65536) + 1]);
    expect(() => add(a, b)).toThrow(/maxBufferSize/);
    a.dispose();
    b.dispose();
    await sync();
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });

  it('a failed allocation is thrown by the next readback as a DeviceError with advice', async () => {
    await sync();
    drainPool(); // the output buffer must be created, not reused
    const before = memory();
    const beforeLive = liveAllocated();
    const x = tensor(randArray(48 * 40, rng(1)), [48, 40]);
    const w = tensor(randArray(40 * 24, rng(2)), [40, 24]);
    const inj = await failNextStorageBuffer();
    const y = matmul(x, w); // its output buffer is the one that fails
    const z = relu(y); // a kernel reading the invalid buffer: WebGPU rejects its batch
    restore?.();
    expect(inj.fired()).toBe(true);
    const err = await z.data().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DeviceError);
    const msg = (err as Error).message;
    // What failed (size and kernel), the WebGPU error, the live memory and what to do.
    expect(msg).toMatch(/GPU buffer allocation failed: a 4608-byte \(0\.0 MiB\) buffer for kernel 'matmul/);
    expect(msg).toMatch(/memory\(\) reports \d+ bytes \(.* MiB\) live in \d+ tensors/);
    expect(msg).toMatch(/Reduce the batch size/);
    expect(msg).toMatch(/more GPU error/); // the rejected batch is reported too
    // Reported once: the next sync is clean.
    await expect(sync()).resolves.toBeUndefined();
    // The tensor with the failed buffer is refused with a clear message, not read as garbage.
    expect(() => relu(y)).toThrow(DeviceError);
    expect(() => relu(y)).toThrow(/no valid GPU memory: its allocation failed/);
    for (const t of [x, w, y, z]) t.dispose();
    // The library keeps working: the same op, same sizes, correct values.
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const p = matmul(a, a);
    expect(Array.from(await p.data())).toEqual([7, 10, 15, 22]);
    a.dispose();
    p.dispose();
    await sync();
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(liveAllocated()).toBe(beforeLive);
    expect(after.pooledBytes).toBeGreaterThanOrEqual(0);
  });

  it('sync() throws the fault too, and a failed buffer never returns to the pool', async () => {
    await sync();
    drainPool();
    const beforeLive = liveAllocated();
    const a = tensor(randArray(1000, rng(3)), [1000]);
    await failNextStorageBuffer();
    const b = relu(a);
    restore?.();
    b.dispose(); // released before the error is known: must be taken out of the pool again
    await expect(sync()).rejects.toThrow(DeviceError);
    await expect(sync()).resolves.toBeUndefined();
    // Same size class again: every new output must be valid.
    for (let i = 0; i < 4; i++) {
      const c = relu(a);
      expect((await c.data())[0]).toBe(Math.max(0, (await a.data())[0]));
      c.dispose();
    }
    a.dispose();
    await sync();
    expect(liveAllocated()).toBe(beforeLive);
  });

  it('fit() rejects with the DeviceError instead of hanging, and the model trains afterwards', async () => {
    setSeed(4);
    const n = 64;
    const xs = tensor(randArray(n * 8, rng(5)), [n, 8]);
    const ys = tensor(
      Int32Array.from({ length: n }, (_, i) => i % 3),
      [n],
      'int32',
    );
    const model = new Sequential([
      new Dense({ units: 16, activation: 'relu', inputShape: [8] }),
      new Dense({ units: 3, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    await model.fit(xs, ys, { epochs: 1, batchSize: 16, logSink: quiet });
    await sync();
    drainPool();
    const before = memory();
    await failNextStorageBuffer();
    await expect(model.fit(xs, ys, { epochs: 1, batchSize: 16, logSink: quiet })).rejects.toThrow(
      /allocation failed.*Reduce the batch size/,
    );
    restore?.();
    // Nothing of the failed step leaks.
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    const h = await model.fit(xs, ys, { epochs: 2, batchSize: 16, logSink: quiet });
    for (const l of h.history.loss) expect(Number.isFinite(l)).toBe(true);
    model.dispose();
    xs.dispose();
    ys.dispose();
  });
});
