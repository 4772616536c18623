import { afterEach, describe, expect, it } from 'vitest';
import {
  Add,
  ArgumentError,
  BatchNormalization,
  Conv2D,
  DepthwiseConv2D,
  type Functional,
  input,
  mean,
  memory,
  mobileNetV2,
  model,
  profile,
  ReLU,
  randomUniform,
  ShapeError,
  type SymbolicTensor,
  setFusedBlocks,
  setSeed,
  square,
  type Tensor,
  tensor,
  tidy,
  variableGrads,
  ZeroPadding2D,
  zeros,
} from '../src/index.js';
import {
  type InvertedResidualWeights,
  invertedResidualBlock,
  invertedResidualTile,
} from '../src/kernels/inverted-residual.js';
import { setTuning } from '../src/kernels/tuning.js';
import { type FoldCache, findChains } from '../src/nn/fusion.js';
import { findInvertedResiduals, runInvertedResidual } from '../src/nn/fusion-block.js';
import { expectClose, randArray, rng } from './helpers.js';
import { randomizeBatchNorms } from './model-helpers.js';
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
  // Channels multiples of 4: the vec4 kernel (E over several chunks, a partial last one).
  { x: [2, 9, 7, 8], e: 44, co: 8, residual: true },
  { x: [1, 5, 6, 12], e: 72, co: 20, residual: false },
  { x: [2, 6, 6, 16], e: 96, co: 160, residual: false },
  // Over 512 output channels: the scalar kernel even with channels multiples of 4.
  { x: [1, 3, 4, 8], e: 12, co: 520, residual: false },
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

  it('picks tiles whose accumulators and workgroup memory fit, vec4 when every channel count allows', () => {
    for (const [h, w, ci, e, co, bytes] of [
      [48, 48, 24, 144, 24, 16384],
      [12, 12, 96, 576, 96, 16384],
      [6, 6, 160, 960, 160, 16384],
      [3, 2, 7, 30, 1000, 4096],
    ]) {
      const k = invertedResidualTile(h, w, ci, e, co, bytes);
      expect(k.vec).toBe(ci % 4 === 0 && e % 4 === 0 && co % 4 === 0);
      expect(k.acc * (k.vec ? 4 : 1)).toBeLessThanOrEqual(32);
      expect(k.ec % (k.vec ? 4 : 1)).toBe(0);
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

/** A MobileNetV2-style block (Keras applications layout) on `x`: expand, depthwise, project [+ x]. */
function block(x: SymbolicTensor, expand: number, out: number, stride: number): SymbolicTensor {
  const cin = x.shape[3] as number;
  const bnRelu = (h: SymbolicTensor) =>
    new ReLU({ maxValue: 6 }).apply(new BatchNormalization({ epsilon: 1e-3 }).apply(h));
  let h = bnRelu(new Conv2D({ filters: expand, kernelSize: 1, padding: 'same', useBias: false }).apply(x));
  if (stride === 2)
    h = new ZeroPadding2D({
      padding: [
        [0, 1],
        [0, 1],
      ],
    }).apply(h);
  h = new DepthwiseConv2D({
    kernelSize: 3,
    strides: stride,
    padding: stride === 1 ? 'same' : 'valid',
    useBias: false,
  }).apply(h);
  h = bnRelu(h);
  h = new Conv2D({ filters: out, kernelSize: 1, padding: 'same', useBias: false }).apply(h);
  h = new BatchNormalization({ epsilon: 1e-3 }).apply(h);
  return cin === out && stride === 1 ? new Add({}).apply([x, h]) : h;
}

function blockNet() {
  setSeed(11);
  const x = input({ shape: [9, 11, 8] });
  let h = block(x, 32, 8, 1); // vec4 kernel
  // The others: channels not multiples of 4.
  h = block(h, 26, 7, 1);
  h = block(h, 42, 10, 2);
  h = block(h, 61, 10, 1);
  const m = model({ inputs: x, outputs: h });
  randomizeBatchNorms(m, 2);
  return m;
}

const graph = (m: Functional) => m as unknown as { nodes: SymbolicTensor[]; outputs: SymbolicTensor[] };

describe('fused inverted-residual blocks in functional models', () => {
  afterEach(() => setTuning({ fusedInvertedResidual: undefined }));

  it('finds the stride-1 blocks (with and without the Add) and leaves stride 2 alone', () => {
    const m = blockNet();
    const { nodes, outputs } = graph(m);
    const blocks = [...findInvertedResiduals(nodes, outputs, findChains(nodes, outputs)).values()];
    expect(blocks.map((b) => [b.nodes.length, b.add !== undefined])).toEqual([
      [9, true],
      [8, false],
      [9, true],
    ]);
    m.dispose();
    // Keras MobileNetV2: blocks 2, 4, 5, 7-12, 14-16 are stride 1 with an expansion; 10 add.
    const net = mobileNetV2({ inputShape: [96, 96, 3], includeTop: false });
    const g = graph(net);
    const found = [...findInvertedResiduals(g.nodes, g.outputs, findChains(g.nodes, g.outputs)).values()];
    expect(found.length).toBe(12);
    expect(found.filter((b) => b.add).length).toBe(10);
    net.dispose();
  });

  it('inference with the switch on equals the switch off, leaks nothing, and a gradient tape or training mode keeps the unfused convs', async () => {
    const m = blockNet();
    const x = randomUniform([3, 9, 11, 8], -1, 1, { seed: 4 });
    const run = async (mode: 'on' | 'off', training = false) => {
      setFusedBlocks(mode); // the public switch (the tuning switch underneath)
      const before = memory().numTensors;
      const y = m.apply(x, { training }) as Tensor;
      expect(memory().numTensors).toBe(before + 1);
      const d = await y.data();
      y.dispose();
      return d;
    };
    const off = await run('off');
    const on = await run('on');
    expectClose(on, off, { atol: 1e-4, rtol: 1e-4 });
    const fusedKernels = async (training: boolean) => {
      const p = await profile(() => tidy(() => m.apply(x, { training }) as Tensor));
      p.result.dispose();
      return p.kernels.filter((k) => k.kernel.startsWith('inverted_residual')).length;
    };
    expect(await fusedKernels(false)).toBeGreaterThan(0);
    // Under a tape the blocks run as their convs, and the gradients are the unfused ones.
    const grads = (mode: 'on' | 'off') => {
      setTuning({ fusedInvertedResidual: mode });
      const { value, grads: g } = variableGrads(() => mean(square(m.apply(x) as Tensor)), m.trainableWeights);
      return [value, ...m.trainableWeights.map((v) => g.get(v)!)];
    };
    const [ga, gb] = [grads('off'), grads('on')];
    for (let k = 0; k < ga.length; k++)
      expectClose(await gb[k].data(), await ga[k].data(), { atol: 1e-5, rtol: 1e-4 });
    for (const t of [...ga, ...gb]) t.dispose();
    // Training mode with trainable batch norms needs batch statistics: the convs run unfused.
    setTuning({ fusedInvertedResidual: 'on' });
    expect(await fusedKernels(true)).toBe(0);
    m.dispose();
    x.dispose();
  });
  it('folds the batch norms once into a FoldCache shared by micro-batches, and disposes nothing it does not own', async () => {
    setTuning({ fusedInvertedResidual: 'on' });
    const m = blockNet();
    const { nodes, outputs } = graph(m);
    const [first] = findInvertedResiduals(nodes, outputs, findChains(nodes, outputs)).values();
    const x = randomUniform([2, 9, 11, 8], -1, 1, { seed: 9 });
    const folds: FoldCache = new Map();
    const before = memory().numTensors;
    const p1 = await profile(() => runInvertedResidual(first, x, {}, folds)!);
    const p2 = await profile(() => runInvertedResidual(first, x, {}, folds)!);
    const folded = (p: typeof p1) => p.kernels.filter((k) => k.kernel.startsWith('fold_bn')).length;
    expect(folded(p1)).toBeGreaterThan(0);
    expect(folded(p2)).toBe(0);
    expect(folds.size).toBe(3);
    // The two outputs, and the three folded filters and biases the cache holds.
    expect(memory().numTensors).toBe(before + 2 + 6);
    for (const f of folds.values()) for (const t of [f.filter, f.bias]) t.dispose();
    for (const t of [p1.result, p2.result]) t.dispose();
    expect(memory().numTensors).toBe(before);
    m.dispose();
    x.dispose();
  });
});
