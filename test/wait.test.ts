import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  matmul,
  randomUniform,
  setWaitPolling,
  sync,
  tidy,
  waitPolling,
} from '../src/index.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { gpuWait } from '../src/tensor/wait.js';

type Immediate = typeof setImmediate;
const realImmediate = globalThis.setImmediate;

/** A spy setImmediate that counts Dawn's poll callbacks (anonymous native functions) it is given. */
function spyImmediate(): { spy: Immediate; dawnPolls: () => number } {
  let polls = 0;
  const spy = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
    if (fn.name === '' && Function.prototype.toString.call(fn).includes('[native code]')) polls++;
    return realImmediate(fn, ...args);
  }) as Immediate;
  return { spy, dawnPolls: () => polls };
}

/** CPU time (ms) of the calling thread so far (Linux; 10 ms ticks). */
function threadCpuMs(): number {
  const s = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Queues about 150-300 ms of lavapipe work (chained 1024^2 matmuls), nothing awaited. */
function queueLongWork(): void {
  const a = randomUniform([1024, 1024], -0.01, 0.01, { seed: 3 });
  tidy(() => {
    let x = a;
    for (let i = 0; i < 5; i++) x = matmul(x, a);
    return x;
  }).dispose();
  a.dispose();
}

/** Runs `queueLongWork` then `sync()` with a spy as the global setImmediate; Dawn polls it saw. */
async function pollsDuringLongWait(): Promise<{ polls: number; ms: number; cpuMs: number }> {
  await sync();
  const { spy, dawnPolls } = spyImmediate();
  globalThis.setImmediate = spy;
  try {
    queueLongWork();
    const t0 = performance.now();
    const c0 = threadCpuMs();
    await sync();
    return { polls: dawnPolls(), ms: performance.now() - t0, cpuMs: threadCpuMs() - c0 };
  } finally {
    globalThis.setImmediate = realImmediate;
  }
}

describe('waiting for the GPU (setWaitPolling)', () => {
  afterEach(() => {
    setWaitPolling('auto');
    globalThis.setImmediate = realImmediate;
  });

  it('rejects unknown modes, naming the value, and reports the mode set', () => {
    expect(waitPolling()).toBe('auto');
    expect(() => setWaitPolling('fast' as never)).toThrow(ArgumentError);
    expect(() => setWaitPolling('fast' as never)).toThrow(
      /setWaitPolling: mode must be 'auto', 'spin' or 'sleep', got "fast"/,
    );
    setWaitPolling('sleep');
    expect(waitPolling()).toBe('sleep');
  });

  it("'sleep' moves Dawn's polls to timers during a long wait; 'spin' leaves Dawn polling every turn", async () => {
    setWaitPolling('sleep');
    const sleep = await pollsDuringLongWait();
    setWaitPolling('spin');
    const spin = await pollsDuringLongWait();
    expect(sleep.ms).toBeGreaterThan(50);
    expect(spin.ms).toBeGreaterThan(50);
    // Sleeping: only the polls of the first 0.25 ms reach setImmediate; spinning: one per turn.
    expect(sleep.polls).toBeLessThan(50);
    expect(spin.polls).toBeGreaterThan(200);
    // And the waiting thread is mostly idle (10 ms ticks, so a generous bound).
    expect(sleep.cpuMs).toBeLessThanOrEqual(0.25 * sleep.ms + 20);
  });

  it("'auto' sleeps on software adapters only", async () => {
    const { spy, dawnPolls } = spyImmediate();
    await sync();
    globalThis.setImmediate = spy;
    queueLongWork();
    await sync();
    globalThis.setImmediate = realImmediate;
    if (deviceFacts().adapterClass === 'software') expect(dawnPolls()).toBeLessThan(50);
    else expect(dawnPolls()).toBeGreaterThan(0);
  });

  it('passes other callbacks through at once and restores setImmediate after nested waits', async () => {
    setWaitPolling('sleep');
    queueLongWork();
    const order: string[] = [];
    const first = gpuWait(async () => {
      expect(globalThis.setImmediate).not.toBe(realImmediate);
      // A user's callback goes to the real setImmediate: it runs before the GPU is done.
      globalThis.setImmediate(() => order.push('user'));
      await sync();
      order.push('gpu');
    });
    const second = gpuWait(() => sync());
    await Promise.all([first, second]);
    expect(order).toEqual(['user', 'gpu']);
    expect(globalThis.setImmediate).toBe(realImmediate);
  });

  it('leaves a setImmediate installed by someone else during a wait in place, and restores after a throw', async () => {
    setWaitPolling('sleep');
    const { spy } = spyImmediate();
    await gpuWait(async () => {
      globalThis.setImmediate = spy;
      await sync();
    });
    expect(globalThis.setImmediate).toBe(spy);
    globalThis.setImmediate = realImmediate;
    await expect(
      gpuWait(() => {
        throw new Error('begin failed');
      }),
    ).rejects.toThrow('begin failed');
    expect(globalThis.setImmediate).toBe(realImmediate);
  });
});
