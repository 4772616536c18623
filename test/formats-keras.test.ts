import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, ModelFormatError, memory, tensor } from '../src/index.js';
import { expectClose } from './helpers.js';

const FIX = join(import.meta.dirname, 'fixtures/formats');
interface Ref {
  input: number[];
  inputShape: number[];
  output: number[];
  outputShape: number[];
}
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
