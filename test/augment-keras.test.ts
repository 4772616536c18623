import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { layerFromConfig, memory, Normalization, tensor, tidy } from '../src/node.js';
import { expectClose } from './helpers.js';

/*
 * Keras 3 (JAX backend) reference outputs of the layers with every random range collapsed to one
 * value (test/fixtures/augment/make_augment.py) on a 2x9x7x2 batch with values in [0, 255].
 */
interface Case {
  name: string;
  cls: string;
  config: Record<string, unknown>;
  training: boolean;
  shape: number[];
  output: number[];
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/augment/augment.json', import.meta.url), 'utf8')) as {
  input: { shape: number[]; data: number[] };
  cases: Case[];
};

// float32 on both sides (values up to 255); Keras builds the rotation matrix in float32, we in
// float64 rounded once, which moves rotated values by up to ~5e-6 relative.
const TOL = { atol: 1e-4, rtol: 1e-5 };

describe('Keras 3 fixtures', () => {
  for (const c of fx.cases) {
    it(c.name, async () => {
      const layer = layerFromConfig({ className: c.cls, config: c.config });
      const x = tensor(Float32Array.from(fx.input.data), fx.input.shape);
      if (layer instanceof Normalization) await layer.adapt(x);
      const before = memory().numTensors;
      const y = tidy(() => layer.apply(x, { training: c.training }));
      expect(y.shape).toEqual(c.shape);
      expectClose(await y.data(), c.output, TOL, c.name);
      // training false may return the input itself (RandomCrop at inference)
      if (y !== x) y.dispose();
      expect(memory().numTensors).toBe(before);
      x.dispose();
      layer.dispose();
    });
  }
});
