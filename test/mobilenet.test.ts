import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  argMax,
  decodeAndResize,
  Functional,
  getDevice,
  loadMobileNetV2Weights,
  mobileNetV2,
  readSafetensorsFile,
  tensor,
  tidy,
  toFloat32,
  WeightsFormatError,
} from '../src/node.js';
import { flowersDir, hasFlowers, hasWeights, weightsDir } from './shared-data.js';

const backbone = join(weightsDir, 'mobilenet_v2_1.0_224_no_top.safetensors');

describe('MobileNetV2 architecture', () => {
  it('has the Keras layer names and parameter counts (192x192x3, no top)', () => {
    const m = mobileNetV2({ inputShape: [192, 192, 3], includeTop: false });
    const text = m.summary(() => {}).join('\n');
    expect(text).toContain('Total params: 2,257,984');
    expect(text).toContain('Trainable params: 2,223,872');
    expect(text).toContain('Non-trainable params: 34,112');
    for (const name of [
      'Conv1',
      'bn_Conv1',
      'expanded_conv_depthwise',
      'block_1_pad',
      'block_16_project_BN',
      'Conv_1',
      'Conv_1_bn',
      'out_relu',
    ]) {
      expect(m.getLayer(name).name).toBe(name);
    }
    expect(m.outputShape).toEqual([null, 6, 6, 1280]);
    expect(text).toMatch(/block_1_pad \(ZeroPadding2D\)\s+\(None, 97, 97, 96\)/);
    expect(text).toMatch(
      /block_2_add \(Add\)\s+\(None, 48, 48, 24\)\s+0\s+block_1_project_BN\[0\]\[0\], block_2_project_BN\[0\]\[0\]/,
    );
    m.dispose();
  });

  it('rejects bad arguments', () => {
    expect(() => mobileNetV2({ inputShape: [16, 16, 3] })).toThrow(/sides >= 32/);
    expect(() => mobileNetV2({ inputShape: [64, 64, 1] })).toThrow(/\[height, width, 3\]/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => mobileNetV2({ pooling: 'max' as any })).toThrow(/pooling/);
  });
});

describe.skipIf(!hasWeights)('MobileNetV2 with the ImageNet weights', () => {
  // Stated tolerance: max abs error <= 1e-3 against the reference activations (float32 Keras).
  const TOL = 1e-3;

  it('matches the reference activations (Conv1_relu, block_1_project_BN, out_relu, pooled)', async () => {
    await getDevice();
    const base = mobileNetV2({ inputShape: [192, 192, 3], includeTop: false, pooling: 'avg' });
    await loadMobileNetV2Weights(base, { backbone });
    const ref = await readSafetensorsFile(join(weightsDir, 'reference_activations.safetensors'));
    const names = ['Conv1_relu', 'block_1_project_BN', 'out_relu'];
    const probes = names.map((n) => new Functional({ inputs: base.inputs, outputs: base.layerOutput(n) }));
    // The probes share the base's layers and weights.
    for (const input of ['random', 'gradient']) {
      const x = tensor(toFloat32(ref.tensors.get(`${input}/input`)!), [1, 192, 192, 3]);
      const outs = tidy(() => [...probes.map((p) => p.apply(x)), base.apply(x)]);
      const want = [...names, 'pooled'];
      for (let i = 0; i < outs.length; i++) {
        const got = await outs[i].data();
        const exp = toFloat32(ref.tensors.get(`${input}/${want[i]}`)!);
        expect(got.length).toBe(exp.length);
        let err = 0;
        for (let j = 0; j < exp.length; j++) err = Math.max(err, Math.abs(got[j] - exp[j]));
        expect(err, `${input}/${want[i]} max abs error`).toBeLessThanOrEqual(TOL);
      }
      for (const t of [x, ...outs]) t.dispose();
    }
    base.dispose();
  });

  it('preprocessInput maps [0,255] and [0,1] to [-1,1]', async () => {
    const x = tensor([0, 127.5, 255]);
    expect(Array.from(await mobileNetV2.preprocessInput(x).data())).toEqual([-1, 0, 1]);
    const u = tensor([0, 0.5, 1]);
    expect(Array.from(await mobileNetV2.preprocessInput(u, { from: 'unit' }).data())).toEqual([-1, 0, 1]);
  });

  it.skipIf(!hasFlowers)(
    'classifies daisy/14866200659_6462c723cb_m.jpg as ImageNet class 985 (daisy)',
    async () => {
      const m = mobileNetV2({ inputShape: [192, 192, 3], includeTop: true });
      await loadMobileNetV2Weights(m, {
        backbone,
        top: join(weightsDir, 'mobilenet_v2_1.0_224_logits_int8.safetensors'),
      });
      const path = join(flowersDir, 'daisy', '14866200659_6462c723cb_m.jpg');
      const { pixels } = decodeAndResize(new Uint8Array(readFileSync(path)), { size: [192, 192], path });
      const x = tensor(pixels, [1, 192, 192, 3]);
      const probs = tidy(() => m.apply(mobileNetV2.preprocessInput(x)));
      const top = await tidy(() => argMax(probs, -1)).data();
      const p = await probs.data();
      expect(top[0]).toBe(985);
      expect(p[985]).toBeGreaterThan(0.9);
      for (const t of [x, probs]) t.dispose();
      m.dispose();
    },
  );

  it('names the missing and mismatched weights when the file does not fit', async () => {
    const wrong = mobileNetV2({ inputShape: [192, 192, 3], includeTop: false, alpha: 0.5 });
    const err = await loadMobileNetV2Weights(wrong, { backbone }).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect(err.message).toContain(
      "'Conv1/kernel' has shape [3,3,3,32] in the file, the model needs [3,3,3,16]",
    );
    wrong.dispose();
    const top = mobileNetV2({ inputShape: [96, 96, 3], includeTop: true });
    await expect(loadMobileNetV2Weights(top, { backbone })).rejects.toThrow(/files\.top/);
    top.dispose();
  });
});
