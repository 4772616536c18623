import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  memory,
  type Optimizer,
  optimizerFromConfig,
  scheduleFromConfig,
  tensor,
  variable,
} from '../src/node.js';
import { expectClose } from './helpers.js';

/**
 * Keras 3 (JAX backend) as the reference: five apply_gradients steps of each optimizer, with weight
 * decay, the three clippings and every schedule, on fixed weights and gradients
 * (test/fixtures/optimizers/make_optimizers.py).
 */

interface Case {
  optimizer: string;
  args: Record<string, unknown>;
  result: number[][];
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/optimizers/optimizers.json', import.meta.url), 'utf8'),
) as { keras: string; weights: number[][]; grads: number[][][]; cases: Case[] };

function build(c: Case): Optimizer {
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.args)) {
    if (v !== null && typeof v === 'object') {
      const s = v as { schedule: string; args: Record<string, unknown> };
      args[k] = { ...s.args, name: s.schedule };
    } else args[k] = v;
  }
  const lr = args.learningRate as Record<string, unknown> | number;
  return optimizerFromConfig({
    ...args,
    name: c.optimizer,
    learningRate: typeof lr === 'object' ? scheduleFromConfig(lr).config : lr,
  });
}

describe(`optimizers match Keras ${fixture.keras}`, () => {
  for (const c of fixture.cases) {
    it(`${c.optimizer} ${JSON.stringify(c.args)}`, async () => {
      const before = memory().numTensors;
      const opt = build(c);
      const vars = fixture.weights.map((w) => {
        const t = tensor(Float32Array.from(w));
        const v = variable(t);
        t.dispose();
        return v;
      });
      for (const step of fixture.grads) {
        const gs = step.map((g) => tensor(Float32Array.from(g)));
        opt.applyGradients(vars.map((v, k) => [v, gs[k]] as [typeof v, (typeof gs)[0]]));
        for (const g of gs) g.dispose();
      }
      // Keras evaluates the scalar factors (1 - beta2^t, Nadam's u products, the schedule) in
      // float32, ours in float64: 1 - 0.999^t alone differs by ~1e-5 relative at t = 1, so the
      // weights agree to a few ulps of that, not to float32 rounding.
      for (const [k, v] of vars.entries())
        expectClose(await v.data(), c.result[k], { atol: 1e-6, rtol: 1e-5 }, `${c.optimizer} var ${k}`);
      for (const v of vars) v.dispose();
      opt.dispose();
      expect(memory().numTensors).toBe(before);
    });
  }
});
