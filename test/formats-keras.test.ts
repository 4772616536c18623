import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, ModelFormatError, memory, tensor } from '../src/index.js';
import { readZip } from '../src/io/zip.js';
import { expectClose } from './helpers.js';

const FIX = join(import.meta.dirname, 'fixtures/formats');
interface Ref {
  input: number[];
  inputShape: number[];
  output: number[];
  outputShape: number[];
}
const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-keras-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const refs = JSON.parse(readFileSync(join(FIX, 'keras_reference.json'), 'utf8')) as Record<string, Ref>;

async function check(file: string, ref: Ref): Promise<number> {
  const before = memory().numTensors;
  const m = await loadModel(join(FIX, file));
  const x = tensor(Float32Array.from(ref.input), ref.inputShape);
  const y = await m.predict(x);
  expect(y.shape).toEqual(ref.outputShape);
  const got = await y.data();
  expectClose(got, Float32Array.from(ref.output), { atol: 1e-5, rtol: 0 }, file);
  let worst = 0;
  got.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - ref.output[i]));
  });
  x.dispose();
  y.dispose();
  m.dispose();
  expect(memory().numTensors).toBe(before);
  return worst;
}

describe('Keras files (fixtures made by Keras 3)', () => {
  for (const name of ['keras_cnn', 'keras_seq']) {
    for (const ext of ['keras', 'h5']) {
      it(`${name}.${ext} predicts as Keras (1e-5)`, async () => {
        const worst = await check(`${name}.${ext}`, refs[name]);
        console.log(`${name}.${ext}: max |diff| ${worst.toExponential(2)}`);
      });
    }
  }

  it('refuses unsupported layers in one error, naming each by name and class', async () => {
    const err = await loadModel(join(FIX, 'keras_unsupported.keras')).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toContain('3 layer(s) not supported');
    expect(err.message).toContain('dilated (Conv2D): dilation_rate [2,2]');
    expect(err.message).toContain('ln (LayerNormalization)');
    expect(err.message).toContain('gelu_dense (Dense): activation "gelu"');
  });
});

describe('saving as .keras', () => {
  it('ours -> .keras -> ours predicts the same; the archive has what Keras 3 reads', async () => {
    const ref = refs.keras_cnn;
    const m = await loadModel(join(FIX, 'keras_cnn.h5'));
    const path = join(dir, 'sub', 'cnn.keras');
    await m.save(path);
    const entries = await readZip(new Uint8Array(readFileSync(path)), path);
    expect([...entries.keys()]).toEqual(['metadata.json', 'config.json', 'model.weights.h5']);
    const config = JSON.parse(new TextDecoder().decode(entries.get('config.json')));
    expect(config.class_name).toBe('Functional');
    const again = await loadModel(path);
    const x = tensor(Float32Array.from(ref.input), ref.inputShape);
    const [a, b] = [await m.predict(x), await again.predict(x)];
    expectClose(await b.data(), await a.data(), { atol: 0, rtol: 0 }, 'reloaded .keras');
    expectClose(await a.data(), Float32Array.from(ref.output), { atol: 1e-5, rtol: 0 }, 'vs Keras');
    for (const t of [x, a, b]) t.dispose();
    m.dispose();
    again.dispose();
  });

  it('writes our own format with format: wgsl-nn into a new folder', async () => {
    const m = await loadModel(join(FIX, 'keras_seq.keras'));
    await m.save(join(dir, 'ours', 'deep'), { format: 'wgsl-nn' });
    const again = await loadModel(join(dir, 'ours', 'deep', 'model.json'));
    expect(again.weights.map((w) => w.name)).toEqual(m.weights.map((w) => w.name));
    m.dispose();
    again.dispose();
  });
});

describe('model.save and loadModel argument errors', () => {
  it('names the bad target, format and folder', async () => {
    const m = await loadModel(join(FIX, 'keras_seq.keras'));
    await expect(m.save('')).rejects.toThrow(/save: target must be a non-empty path, got ""/);
    await expect(m.save(join(dir, 'x'), { format: 'onnx' as never })).rejects.toThrow(
      /save: format must be one of wgsl-nn, tfjs, keras, got "onnx"/,
    );
    await expect(m.save(join(dir, 'x.h5'), { format: 'keras' })).rejects.toThrow(
      /needs a path ending in \.keras/,
    );
    await expect(m.save(join(dir, 'x'), { fromat: 'tfjs' } as never)).rejects.toThrow(
      /save: unknown option 'fromat' \(did you mean 'format'\?\)/,
    );
    m.dispose();
    await expect(loadModel(FIX)).rejects.toThrow(/holds several model files/);
    await expect(loadModel([] as never)).rejects.toThrow(/path must be a non-empty path or URL/);
  });
});
