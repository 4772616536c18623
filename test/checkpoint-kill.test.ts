import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, readSafetensorsFile } from '../src/node.js';
import { buildModel, fileDigest, modelDigest } from './fixtures/checkpoint-state.js';
import { rng } from './helpers.js';

/*
 * A training process killed with SIGKILL at random moments, several of them in the middle of a
 * checkpoint write, must always leave a checkpoint that loads completely: the previous epoch's or
 * the new one, never a mix. The child (test/fixtures/checkpoint-writer.ts) prints the digest of
 * the state it is about to save; the file and the model restored from it must match it exactly.
 */

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-kill-'));
const path = join(dir, 'ckpt.safetensors');
const fixture = join(import.meta.dirname, 'fixtures', 'checkpoint-writer.ts');
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Event {
  event: 'resumed' | 'saving' | 'saved';
  epoch: number;
  iterations?: number;
  digest?: string;
}

/** A child process and the complete JSON lines it printed so far. */
function start(): { proc: ChildProcess; events: Event[]; next: (p: (e: Event) => boolean) => Promise<void> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Event[] = [];
  const waiters: Array<{ pred: (e: Event) => boolean; resolve: () => void }> = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      if (!line.startsWith('{')) continue; // e.g. Dawn's warnings
      const e = JSON.parse(line) as Event;
      events.push(e);
      for (const w of waiters.splice(0)) {
        if (w.pred(e)) w.resolve();
        else waiters.push(w);
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<never>((_, reject) =>
    proc.on('exit', (code, signal) =>
      reject(new Error(`checkpoint writer exited (${code ?? signal}) early: ${stderr.slice(-2000)}`)),
    ),
  );
  exited.catch(() => {}); // expected once we kill it
  const next = (pred: (e: Event) => boolean) =>
    Promise.race([new Promise<void>((resolve) => waiters.push({ pred, resolve })), exited]);
  return { proc, events, next };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tempFiles = () => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

/** Polls until a new temp file appears, i.e. the rename-based write has started. */
async function writeStarted(before: number, timeoutMs = 5000): Promise<boolean> {
  for (let t = 0; t < timeoutMs; t += 1) {
    if (tempFiles().length > before) return true;
    await sleep(1);
  }
  return false;
}

describe('checkpoint written by a process killed at random moments', () => {
  it('always loads as one complete saved epoch (weights, optimizer slots and step)', async () => {
    const r = rng(2024);
    // Latest announced state per epoch (a resumed run re-announces the epochs after its start).
    const announced = new Map<number, { iterations: number; digest: string }>();
    let fileEpoch = -1;
    let midWrite = 0;
    const kills = 6;
    for (let k = 0; k < kills; k++) {
      const c = start();
      child = c.proc;
      await c.next((e) => e.event === 'resumed');
      expect(c.events[0].epoch, 'a restarted run resumes from the checkpoint on disk').toBe(
        Math.max(0, fileEpoch),
      );
      // Let the run save one or two epochs first, so the checkpoint on disk moves on.
      const target = c.events[0].epoch + 1 + Math.floor(r() * 2);
      await c.next((e) => e.event === 'saved' && e.epoch >= target);
      const temps = tempFiles().length;
      const mode = k % 3;
      if (mode < 2) {
        // During a write: once its temp file exists, within the first milliseconds (mode 0) or
        // anywhere in it, possibly just after the rename (mode 1).
        await c.next((e) => e.event === 'saving');
        expect(await writeStarted(temps), 'the child started a checkpoint write').toBe(true);
        await sleep(r() * (mode === 0 ? 5 : 60));
      } else {
        await sleep(r() * 300); // anywhere: training, readback, serialisation or write
      }
      // 'close', not 'exit': every line the child printed must be read first.
      const gone = new Promise((res) => c.proc.once('close', res));
      c.proc.kill('SIGKILL');
      await gone;
      child = undefined;
      if (tempFiles().length > temps) midWrite++;
      for (const e of c.events) {
        if (e.event === 'saving') announced.set(e.epoch, { iterations: e.iterations!, digest: e.digest! });
      }

      // Only the atomic target looks like a checkpoint; leftovers are hidden `.tmp` files.
      const files = readdirSync(dir);
      expect(files.filter((f) => f.endsWith('.safetensors'))).toEqual(['ckpt.safetensors']);
      for (const f of tempFiles()) expect(f).toMatch(/^\.ckpt\.safetensors\.\d+\.[0-9a-f]+\.tmp$/);

      // The file is the last completed save, or the one being written when the kill came.
      const saved = c.events.filter((e) => e.event === 'saved').map((e) => e.epoch);
      const saving = c.events.filter((e) => e.event === 'saving').map((e) => e.epoch);
      const previous = saved.length > 0 ? saved[saved.length - 1] : c.events[0].epoch;
      const allowed = [previous, ...saving.filter((e) => e > previous)];
      const file = await readSafetensorsFile(path);
      const epoch = Number(file.metadata.epoch);
      expect(allowed).toContain(epoch);
      const want = announced.get(epoch);
      expect(want, `epoch ${epoch} was announced before it was saved`).toBeDefined();
      expect(fileDigest(file), `epoch ${epoch}: file content is exactly one saved state`).toBe(want!.digest);
      expect(file.metadata.iterations).toBe(String(want!.iterations));

      // loadCheckpoint restores that complete state into a fresh model.
      const m = buildModel();
      expect(await loadCheckpoint(m, path)).toBe(epoch);
      expect(m.optimizer!.iterations).toBe(want!.iterations);
      expect(await modelDigest(m)).toBe(want!.digest);
      m.dispose();
      fileEpoch = epoch;
    }
    // The kills really landed inside writes (the temp file was still there).
    expect(midWrite).toBeGreaterThanOrEqual(1);
    expect(existsSync(path)).toBe(true);
  });
});
