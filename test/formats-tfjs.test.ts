import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model, ModelFormatError, memory, tensor } from '../src/index.js';
import { toFloat32, toInt32 } from '../src/io/safetensors.js';
import { decodeTfjsGroup } from '../src/io/tfjs.js';
import { expectClose, randArray, rng } from './helpers.js';

const FIX = join(import.meta.dirname, 'fixtures/formats');
interface Ref {
  input: number[];
  inputShape: number[];
  output: number[];
  outputShape: number[];
}
const refs = JSON.parse(readFileSync(join(FIX, 'tfjs_reference.json'), 'utf8')) as Record<string, Ref>;
const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-tfjs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function predictOurs(m: Model, input: number[], shape: number[]): Promise<Float32Array> {
  const x = tensor(Float32Array.from(input), shape);
  const y = await m.predict(x);
  const out = (await y.data()) as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

/** tf.loadLayersModel on the files at `path` (model.json + shards), through an in-memory handler. */
async function tfjsLoad(path: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const base = path.slice(0, path.lastIndexOf('/'));
  const specs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const data = Buffer.concat(
    json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(base, p)))),
  );
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }),
  );
}

describe('TensorFlow.js LayersModels (fixtures made by tfjs-layers 4.22)', () => {
  for (const name of ['tfjs_cnn', 'tfjs_seq', 'tfjs_cnn_uint8', 'tfjs_cnn_uint16', 'tfjs_cnn_float16']) {
    it(`${name} predicts as TF.js (1e-5)`, async () => {
      const before = memory().numTensors;
      const ref = refs[name];
      const m = await loadModel(join(FIX, name, 'model.json'));
      const got = await predictOurs(m, ref.input, ref.inputShape);
      expectClose(got, Float32Array.from(ref.output), { atol: 1e-5, rtol: 0 }, name);
      m.dispose();
      expect(memory().numTensors).toBe(before);
    });
  }

  it('loads a folder holding model.json', async () => {
    const m = await loadModel(join(FIX, 'tfjs_seq'));
    expect(m.className).toBe('Sequential');
    m.dispose();
  });

  it('decodes float32, int32 and quantized uint8/uint16/float16 weights as tfjs-core does', () => {
    const r = rng(5);
    const f = randArray(6, r, -3, 3);
    const i32 = Int32Array.from([1, -2, 3, 70000]);
    const u8 = Uint8Array.from([0, 1, 128, 255]);
    const u16 = Uint16Array.from([0, 7, 40000, 65535]);
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555]);
    const specs: tf.io.WeightsManifestEntry[] = [
      { name: 'a', shape: [2, 3], dtype: 'float32' },
      { name: 'b', shape: [4], dtype: 'int32' },
      { name: 'c', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.01, min: -0.5 } },
      { name: 'd', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 1e-4, min: -2 } },
      { name: 'e', shape: [6], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'g', shape: [4], dtype: 'int32', quantization: { dtype: 'uint8', scale: 0.5, min: -3 } },
    ];
    const parts = [f, i32, u8, u16, f16, u8].map((a) => new Uint8Array(a.buffer));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    // Our decoder, fed the bytes as three shards.
    const ours = new Map();
    decodeTfjsGroup(
      { paths: ['s1', 's2', 's3'], weights: specs as never },
      [all.slice(0, 5), all.slice(5, 40), all.slice(40)],
      'test',
      ours,
    );
    const theirs = tf.io.decodeWeights(all.buffer, specs);
    for (const s of specs) {
      const want = theirs[s.name].dataSync();
      const e = ours.get(s.name);
      const got = s.dtype === 'int32' ? toInt32(e) : toFloat32(e);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
    tf.dispose(Object.values(theirs));
  });
});

describe('TF.js models we cannot run', () => {
  it('fail before any shard is read, naming every unsupported layer', async () => {
    const json = JSON.parse(readFileSync(join(FIX, 'tfjs_seq', 'model.json'), 'utf8'));
    const layers = json.modelTopology.config.layers;
    layers[0].config.dilation_rate = [2, 2];
    layers[4].class_name = 'LayerNormalization';
    layers[6].config.activation = 'swish';
    json.weightsManifest[0].paths = ['missing-shard.bin'];
    mkdirSync(join(dir, 'bad'), { recursive: true });
    writeFileSync(join(dir, 'bad', 'model.json'), JSON.stringify(json));
    const err = await loadModel(join(dir, 'bad', 'model.json')).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toContain('3 layer(s) not supported');
    expect(err.message).toContain('c1 (Conv2D): dilation_rate [2,2] (only 1)');
    expect(err.message).toContain('d1 (LayerNormalization): no such layer in wgsl-nn');
    expect(err.message).toContain('d2 (Dense): activation "swish"');
  });
});

describe('saving in the TF.js format', () => {
  it('ours -> tfjs -> tf.loadLayersModel predicts the same (every layer, nested, shared)', async () => {
    const ref = refs.tfjs_cnn;
    const m = await loadModel(join(FIX, 'tfjs_cnn', 'model.json'));
    await m.save(join(dir, 'cnn'), { format: 'tfjs' });
    const theirs = await tfjsLoad(join(dir, 'cnn', 'model.json'));
    const x = tf.tensor(ref.input, ref.inputShape as [number, number, number, number]);
    const y = theirs.predict(x) as tf.Tensor;
    const ours = await predictOurs(m, ref.input, ref.inputShape);
    expectClose(y.dataSync() as Float32Array, ours, { atol: 1e-5, rtol: 0 }, 'tf.loadLayersModel vs ours');
    tf.dispose([x, y]);
    theirs.dispose();
    // And it loads back here.
    const again = await loadModel(join(dir, 'cnn'));
    expectClose(await predictOurs(again, ref.input, ref.inputShape), ours, { atol: 0, rtol: 0 }, 'reloaded');
    again.dispose();
    m.dispose();
  });

  it('a Sequential model built here round-trips through tf.loadLayersModel', async () => {
    const { Dense, Dropout, Sequential } = await import('../src/index.js');
    const m = new Sequential({
      name: 'made_here',
      layers: [
        new Dense({ units: 7, activation: 'tanh', inputShape: [5], name: 'h1' }),
        new Dropout({ rate: 0.2, name: 'dr' }),
        new Dense({ units: 3, activation: 'softmax', name: 'out' }),
      ],
    });
    await m.save(join(dir, 'seq', 'model.json'), { format: 'tfjs' });
    const theirs = await tfjsLoad(join(dir, 'seq', 'model.json'));
    const input = Array.from(randArray(10, rng(3)));
    const y = theirs.predict(tf.tensor(input, [2, 5])) as tf.Tensor;
    const ours = await predictOurs(m, input, [2, 5]);
    expectClose(y.dataSync() as Float32Array, ours, { atol: 1e-6, rtol: 0 }, 'sequential');
    theirs.dispose();
    m.dispose();
  });
  it('a two-output functional model round-trips through tf.loadLayersModel', async () => {
    const { Dense, input, model } = await import('../src/index.js');
    const x = input({ shape: [4], name: 'mo_in' });
    const h = new Dense({ units: 6, activation: 'relu', name: 'mo_h' }).apply(x);
    const a = new Dense({ units: 3, activation: 'softmax', name: 'mo_a' }).apply(h);
    const b = new Dense({ units: 1, name: 'mo_b' }).apply(h);
    const m = model({ inputs: x, outputs: [a, b], name: 'two_out' });
    await m.save(join(dir, 'two_out'), { format: 'tfjs' });
    const theirs = await tfjsLoad(join(dir, 'two_out', 'model.json'));
    const data = Array.from(randArray(8, rng(5)));
    const ys = theirs.predict(tf.tensor(data, [2, 4])) as tf.Tensor[];
    const ours = await m.predict<import('../src/index.js').Tensor[]>(tensor(data, [2, 4]));
    expect(ys.length).toBe(2);
    expect(ours.length).toBe(2);
    for (let k = 0; k < 2; k++) {
      expectClose(
        ys[k].dataSync() as Float32Array,
        await ours[k].data(),
        { atol: 1e-6, rtol: 0 },
        `output ${k}`,
      );
      ours[k].dispose();
    }
    const again = await loadModel(join(dir, 'two_out'));
    const back = await again.predict<import('../src/index.js').Tensor[]>(tensor(data, [2, 4]));
    expectClose(await back[1].data(), ys[1].dataSync() as Float32Array, { atol: 1e-6, rtol: 0 }, 'reloaded');
    for (const t of back) t.dispose();
    tf.dispose(ys);
    theirs.dispose();
    again.dispose();
    m.dispose();
  });

  it('a Teachable-Machine-style Sequential[Functional, Sequential] round-trips through tf.loadLayersModel', async () => {
    const { Conv2D, Dense, GlobalAveragePooling2D, Sequential, input, model } = await import(
      '../src/index.js'
    );
    const img = input({ shape: [10, 10, 3], name: 'tm_input' });
    const feats = new GlobalAveragePooling2D({ name: 'tm_gap' }).apply(
      new Conv2D({
        filters: 6,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu6',
        name: 'tm_conv',
      }).apply(img),
    );
    const base = model({ inputs: img, outputs: feats, name: 'tm_base' });
    const head = new Sequential({
      name: 'tm_head',
      layers: [
        new Dense({ units: 8, activation: 'relu', inputShape: [6], name: 'tm_d1' }),
        new Dense({ units: 3, activation: 'softmax', name: 'tm_d2' }),
      ],
    });
    const tm = new Sequential({ name: 'tm', layers: [base, head] });
    await tm.save(join(dir, 'tm'), { format: 'tfjs' });
    const theirs = await tfjsLoad(join(dir, 'tm', 'model.json'));
    const input01 = Array.from(randArray(2 * 300, rng(9)));
    const y = theirs.predict(tf.tensor(input01, [2, 10, 10, 3])) as tf.Tensor;
    const ours = await predictOurs(tm, input01, [2, 10, 10, 3]);
    expectClose(y.dataSync() as Float32Array, ours, { atol: 1e-6, rtol: 0 }, 'TM-style');
    theirs.dispose();
    tm.dispose();
  });
});
