import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dense, loadModel, modelCheckpoint, Sequential, tensor, WeightsFormatError } from '../src/index.js';
import { expectClose, randArray, rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-save-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function makeModel(units = 4): Sequential {
  return new Sequential({
    name: 'saver',
    layers: [
      new Dense({ units, activation: 'relu', inputShape: [3], name: 'hidden' }),
      new Dense({ units: 2, activation: 'softmax', name: 'out' }),
    ],
  });
}

describe('saveWeights / loadWeights / loadModel', () => {
  it('round-trips weights and config: the reloaded model predicts the same', async () => {
    const m = makeModel();
    const path = join(dir, 'model.safetensors');
    await m.saveWeights(path);
    const cfg = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(cfg.format).toBe('wgsl-nn/1');
    expect(cfg.className).toBe('Sequential');
    const again = await loadModel(path);
    const x = tensor(randArray(9, rng(2)), [3, 3]);
    const [a, b] = await Promise.all([m.predict(x), again.predict(x)]);
    expectClose(await b.data(), await a.data(), { atol: 0, rtol: 0 }, 'reloaded predictions');
    for (const t of [x, a, b]) t.dispose();
    m.dispose();
    again.dispose();
  });

  it('names every missing, unexpected and mismatched weight', async () => {
    const m = makeModel(4);
    const path = join(dir, 'four.safetensors');
    await m.saveWeights(path);
    const wider = makeModel(5);
    const err = await wider.loadWeights(path).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect(err.message).toContain("'hidden/kernel' has shape [3,4] in the file, the model needs [3,5]");
    expect(err.message).toContain("'out/kernel' has shape [4,2] in the file, the model needs [5,2]");
    const other = new Sequential([new Dense({ units: 4, inputShape: [3], name: 'renamed' })]);
    const err2 = await other.loadWeights(path).catch((e) => e);
    expect(err2.message).toContain("missing 'renamed/kernel'");
    expect(err2.message).toContain("unexpected 'out/bias'");
    await expect(other.loadWeights(join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors/);
    for (const x of [m, wider, other]) x.dispose();
  });

  // Issue 15, bug 1: a missing folder made the save fail with ENOENT naming the temp file.
  it('saveWeights and modelCheckpoint create a missing folder; a path that cannot be a folder is named', async () => {
    const m = makeModel();
    const path = join(dir, 'new', 'nested', 'model.safetensors');
    await m.saveWeights(path);
    expect(readdirSync(join(dir, 'new', 'nested')).sort()).toEqual(['model.json', 'model.safetensors']);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const cb = modelCheckpoint(m, join(dir, 'ckpts', 'run1', 'epoch-{epoch}.safetensors'));
    await cb.onEpochEnd?.(0, {});
    expect(readdirSync(join(dir, 'ckpts', 'run1'))).toEqual(['epoch-1.safetensors']);
    writeFileSync(join(dir, 'a-file'), 'x');
    const blocked = join(dir, 'a-file', 'sub', 'model.safetensors');
    const err = (await m.saveWeights(blocked).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(blocked);
    expect(err.message).not.toMatch(/\.tmp/);
    expect(err.code).toMatch(/ENOTDIR|EEXIST/);
    m.dispose();
  });
});
