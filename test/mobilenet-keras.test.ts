import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { parseKerasMobileNetV2Name } from '../src/applications/mobilenet-v2.js';
import { loadMobileNetV2Weights, memory, mobileNetV2, tensor, WeightsFormatError } from '../src/index.js';
import { expectClose } from './helpers.js';

const FIX = join(import.meta.dirname, 'fixtures/formats');
const NAME = 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5';
const refs = JSON.parse(readFileSync(join(FIX, 'keras_reference.json'), 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-mnet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The fixture is gzipped to stay small; the file under test is the Keras layout, byte for byte.
const h5 = join(dir, NAME);
writeFileSync(h5, gunzipSync(readFileSync(join(FIX, `${NAME}.gz`))));

describe('MobileNetV2: Keras applications weight files and every alpha', () => {
  it('parses the Keras file names for every alpha and size', () => {
    for (const alpha of ['0.35', '0.5', '0.75', '1.0', '1.3', '1.4']) {
      for (const size of [96, 128, 160, 192, 224]) {
        const base = `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${alpha}_${size}`;
        expect(parseKerasMobileNetV2Name(`/w/${base}.h5`)).toEqual({ alpha: Number(alpha), size, top: true });
        expect(parseKerasMobileNetV2Name(`${base}_no_top.h5`)).toEqual({
          alpha: Number(alpha),
          size,
          top: false,
        });
      }
    }
  });

  it('builds alpha 0.35, 0.5, 0.75, 1.0, 1.3, 1.4 with the parameter counts of Keras', () => {
    const want = refs.mobilenet_v2_params as Record<string, number>;
    for (const alpha of [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]) {
      for (const top of [false, true]) {
        const m = mobileNetV2({ alpha, includeTop: top, inputShape: [96, 96, 3] });
        expect(m.countParams(), `alpha ${alpha} ${top ? 'top' : 'no_top'}`).toBe(
          want[`${alpha === 1 ? '1.0' : alpha}_${top ? 'top' : 'no_top'}`],
        );
        m.dispose();
      }
    }
  });

  it('loads a Keras-layout .h5 (alpha 0.35, no top) and predicts as Keras', async () => {
    const before = memory().numTensors;
    const ref = refs['mobilenet_v2_0.35'];
    const m = mobileNetV2({ alpha: 0.35, includeTop: false, inputShape: [48, 48, 3] });
    await loadMobileNetV2Weights(m, h5);
    const x = tensor(Float32Array.from(ref.input), ref.inputShape);
    const y = await m.predict(x);
    expect(y.shape).toEqual(ref.outputShape);
    expectClose(
      await y.data(),
      Float32Array.from(ref.output),
      { atol: 1e-5, rtol: 1e-5 },
      'MobileNetV2 0.35',
    );
    x.dispose();
    y.dispose();
    m.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('names the alpha of the file when the model was built with another', async () => {
    const m = mobileNetV2({ alpha: 0.5, includeTop: false, inputShape: [48, 48, 3] });
    const err = await loadMobileNetV2Weights(m, h5).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect(err.message).toContain(
      "'block_1_project/kernel' has shape [1,1,48,8] in the file, the model needs [1,1,48,16]",
    );
    expect(err.message).toContain('build the model with mobileNetV2({ alpha: 0.35 })');
    m.dispose();
  });

  it('refuses a _no_top file for a model with a classifier', async () => {
    const m = mobileNetV2({ alpha: 0.35, includeTop: true, inputShape: [48, 48, 3], classes: 3 });
    await expect(loadMobileNetV2Weights(m, h5)).rejects.toThrow(/has no classifier \(_no_top\)/);
    m.dispose();
  });
});
