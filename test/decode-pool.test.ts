import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDecodeJob } from '../src/data/decode-worker.js';
import { ImageDecodeError } from '../src/data/errors.js';
import { PixelArena } from '../src/data/pixel-arena.js';
import { DecodePool } from '../src/data/worker-pool.js';
import { WgslNnError } from '../src/index.js';
import { expected, pool, root, SIZE, useFixtureTree } from './from-directory-helpers.js';

/* DecodePool and PixelArena, on the fixture tree of test/from-directory-helpers.ts. */

useFixtureTree();

describe('DecodePool', () => {
  it('rejects undecodable files with ImageDecodeError and keeps working', async () => {
    const e = await pool
      .run({ path: join(root, 'dogs/text.png'), height: 4, width: 4 })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ImageDecodeError);
    expect((e as Error).message).toContain('text.png');
    const missing = await pool
      .run({ path: join(root, 'missing.jpg'), height: 4, width: 4 })
      .catch((x: unknown) => x);
    expect((missing as ImageDecodeError).reason).toMatch(/cannot read the file \(ENOENT/);
    const ok = await pool.run({ path: join(root, 'cats/a.jpg'), height: SIZE[0], width: SIZE[1] });
    expect(Array.from(ok.pixels)).toEqual(await expected('cats/a.jpg'));
    expect([ok.srcWidth, ok.srcHeight]).toEqual([30, 20]);
  });

  it('writes into shared memory when given `into` (same pixels, no buffer sent back), and checks it', async () => {
    const job = { path: join(root, 'cats/a.jpg'), height: SIZE[0], width: SIZE[1] };
    const n = SIZE[0] * SIZE[1] * 3;
    const into = new Float32Array(new SharedArrayBuffer(n * 4)).fill(-1);
    const r = await pool.run(job, { into });
    expect(r.pixels).toBe(into);
    expect(Array.from(into)).toEqual(await expected('cats/a.jpg'));
    expect([r.srcWidth, r.srcHeight]).toEqual([30, 20]);
    // A view at an offset of a larger shared buffer works too.
    const big = new SharedArrayBuffer((n + 8) * 4);
    const view = new Float32Array(big, 32, n);
    await pool.run(job, { into: view });
    expect(Array.from(view)).toEqual(Array.from(into));
    // The calling-thread path takes the same block.
    const local = new Float32Array(new SharedArrayBuffer(n * 4));
    await runDecodeJob(job, local);
    expect(Array.from(local)).toEqual(Array.from(into));
    await expect(pool.run(job, { into: new Float32Array(n) })).rejects.toThrow(
      /DecodePool.run: into must be a Float32Array over a SharedArrayBuffer, got a Float32Array over an ArrayBuffer/,
    );
    await expect(pool.run(job, { into: new Uint8Array(new SharedArrayBuffer(n)) as never })).rejects.toThrow(
      /into must be a Float32Array over a SharedArrayBuffer, got Uint8Array/,
    );
    await expect(
      pool.run(job, { into: new Float32Array(new SharedArrayBuffer(4 * (n - 3))) }),
    ).rejects.toThrow(/DecodePool.run: into has 357 values, but a 12x10 RGB image needs 360/);
    await expect(pool.run(job, { int: into } as never)).rejects.toThrow(
      /DecodePool.run: unknown option 'int'/,
    );
    await expect(pool.run(job, null as never)).rejects.toThrow(
      /DecodePool.run: expected an options object, got null/,
    );
    expect(pool.pending).toBe(0);
  });

  it('PixelArena reuses the blocks given back and lets them go on clear()', () => {
    const a = new PixelArena(6);
    const b1 = a.take();
    expect(b1.length).toBe(6);
    expect(b1.buffer).toBeInstanceOf(SharedArrayBuffer);
    const b2 = a.take();
    expect(b2.buffer).not.toBe(b1.buffer);
    a.give(b1);
    a.give(new Float32Array(6)); // not one of its blocks (not shared): ignored
    a.give(new Float32Array(new SharedArrayBuffer(20))); // wrong size: ignored
    expect(a.size).toBe(1);
    expect(a.take()).toBe(b1);
    a.give(b1);
    a.give(b2);
    a.clear();
    expect(a.size).toBe(0);
    expect(a.take()).not.toBe(b1);
  });

  it('stops a job that hangs (a FIFO nobody writes) after timeoutMs and replaces the worker', async (ctx) => {
    const fifo = join(root, 'hang.jpg');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      ctx.skip();
    }
    const p = new DecodePool({ size: 1, timeoutMs: 1500 });
    try {
      const t = performance.now();
      const e = await p.run({ path: fifo, height: 4, width: 4 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ImageDecodeError);
      expect((e as Error).message).toMatch(
        /hang\.jpg': decoding took longer than 1500 ms; the worker was stopped/,
      );
      expect(performance.now() - t).toBeGreaterThanOrEqual(1400);
      const ok = await p.run({ path: join(root, 'cats/b.png'), height: 3, width: 3 });
      expect(ok.pixels.length).toBe(27);
    } finally {
      await p.close();
      // Release the libuv thread still blocked opening the FIFO.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {}
      rmSync(fifo, { force: true });
    }
  });

  it('rejects pending and later jobs once closed, and validates its options', async () => {
    const p = new DecodePool({ size: 1 });
    const pending = p.run({ path: join(root, 'cats/a.jpg'), height: 4, width: 4 }).catch((x: unknown) => x);
    await p.close();
    expect(await pending).toBeInstanceOf(WgslNnError);
    await expect(p.run({ path: join(root, 'cats/a.jpg'), height: 4, width: 4 })).rejects.toThrow(
      /the pool was closed/,
    );
    expect(() => new DecodePool({ size: 0 })).toThrow(/DecodePool: size must be a positive integer, got 0/);
    expect(() => new DecodePool({ timeoutMs: -1 })).toThrow(/timeoutMs must be a positive number, got -1/);
  });
});
