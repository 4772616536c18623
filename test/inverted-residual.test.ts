import { describe, expect, it } from 'vitest';
import { ArgumentError, memory, ShapeError, tensor, zeros } from '../src/index.js';
import {
  type InvertedResidualWeights,
  invertedResidualBlock,
  invertedResidualTile,
} from '../src/kernels/inverted-residual.js';
import { expectClose, randArray, rng } from './helpers.js';
import { invertedResidualRef } from './oracle/inverted-residual.js';

interface Case {
  x: [number, number, number, number];
  e: number;
  co: number;
  residual: boolean;
}

// Odd sizes: H, W off every tile, channels not multiples of 4, and one with E over several chunks.
const CASES: Case[] = [
  { x: [1, 7, 5, 3], e: 18, co: 3, residual: true },
  { x: [2, 9, 11, 5], e: 30, co: 7, residual: false },
  { x: [3, 6, 6, 7], e: 43, co: 7, residual: true },
  { x: [1, 1, 1, 2], e: 5, co: 3, residual: false },
  { x: [2, 13, 10, 9], e: 70, co: 9, residual: true },
  { x: [1, 5, 7, 6], e: 37, co: 161, residual: false },
];

function randomBlock(c: Case, seed: number) {
  const r = rng(seed);
  const ci = c.x[3];
  const data = {
    x: randArray(
      c.x.reduce((a, b) => a * b, 1),
      r,
    ),
    // Scales keep a good share of each ReLU6 in its linear part and some at 0 and at 6.
    expandFilter: randArray(ci * c.e, r, -1.5, 1.5),
    expandBias: randArray(c.e, r, -1, 3),
    depthwiseFilter: randArray(9 * c.e, r, -1, 1),
    depthwiseBias: randArray(c.e, r, -1, 3),
    projectFilter: randArray(c.e * c.co, r, -0.5, 0.5),
    projectBias: randArray(c.co, r, -1, 1),
  };
  const weights: InvertedResidualWeights = {
    expandFilter: tensor(data.expandFilter, [ci, c.e]),
    expandBias: tensor(data.expandBias, [c.e]),
    depthwiseFilter: tensor(data.depthwiseFilter, [3, 3, c.e]),
    depthwiseBias: tensor(data.depthwiseBias, [c.e]),
    projectFilter: tensor(data.projectFilter, [c.e, c.co]),
    projectBias: tensor(data.projectBias, [c.co]),
  };
  return { data, x: tensor(data.x, c.x), weights };
}

describe('invertedResidualBlock', () => {
  it('matches the float64 oracle of expand -> ReLU6 -> depthwise -> ReLU6 -> project [+ x]', async () => {
    const before = memory().numTensors;
    for (const [i, c] of CASES.entries()) {
      const { data, x, weights } = randomBlock(c, 70 + i);
      const y = invertedResidualBlock(x, weights, { residual: c.residual });
      expect(y.shape).toEqual([...c.x.slice(0, 3), c.co]);
      const want = invertedResidualRef(data.x, c.x, c.e, c.co, data, c.residual);
      expectClose(await y.data(), want, { atol: 1e-4, rtol: 1e-4 }, JSON.stringify(c));
      for (const t of [x, y, ...Object.values(weights)]) t.dispose();
    }
    expect(memory().numTensors).toBe(before);
  });

  it('picks tiles whose accumulators and workgroup memory fit', () => {
    for (const [h, w, co, bytes] of [
      [48, 48, 24, 16384],
      [12, 12, 96, 16384],
      [6, 6, 160, 16384],
      [3, 2, 1000, 4096],
    ]) {
      const k = invertedResidualTile(h, w, co, bytes);
      expect(k.acc).toBeLessThanOrEqual(16);
      expect(k.th).toBeLessThanOrEqual(h);
      expect(k.tw).toBeLessThanOrEqual(w);
      expect(4 * k.ec * ((k.th + 2) * (k.tw + 2) + k.th * k.tw)).toBeLessThanOrEqual(bytes);
    }
  });

  it('rejects bad calls, naming the argument and its shape', () => {
    const c: Case = { x: [1, 4, 4, 3], e: 6, co: 3, residual: true };
    const { x, weights } = randomBlock(c, 3);
    expect(() => invertedResidualBlock(zeros([4, 4, 3]), weights)).toThrow(ShapeError);
    expect(() => invertedResidualBlock(zeros([4, 4, 3]), weights)).toThrow(/x must have rank 4/);
    const bad = { ...weights, depthwiseFilter: zeros([3, 3, 5]) };
    expect(() => invertedResidualBlock(x, bad)).toThrow(
      /weights.depthwiseFilter must have shape \[3,3,6\], got \[3,3,5\]/,
    );
    expect(() => invertedResidualBlock(x, { ...weights, expandBias: zeros([7]) })).toThrow(ShapeError);
    expect(() => invertedResidualBlock(zeros([1, 4, 4, 2]), weights)).toThrow(
      /weights.expandFilter must have shape \[2,6\]/,
    );
    const wide = { ...weights, projectFilter: zeros([6, 4]), projectBias: zeros([4]) };
    expect(() => invertedResidualBlock(x, wide, { residual: true })).toThrow(/residual needs/);
    expect(() => invertedResidualBlock(x, weights, { residual: 1 as unknown as boolean })).toThrow(
      ArgumentError,
    );
    expect(() => invertedResidualBlock(x, null as unknown as InvertedResidualWeights)).toThrow(
      /weights must be an object/,
    );
    for (const t of [x, bad.depthwiseFilter, wide.projectFilter, wide.projectBias, ...Object.values(weights)])
      t.dispose();
  });
});
