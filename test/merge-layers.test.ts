import { afterEach, describe, expect, it } from 'vitest';
import {
  Average,
  Concatenate,
  Cropping2D,
  Dot,
  type Layer,
  layerFromConfig,
  Maximum,
  Minimum,
  Multiply,
  memory,
  Permute,
  RepeatVector,
  Subtract,
  type Tensor,
  tensor,
  tidy,
  UpSampling2D,
} from '../src/index.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, rng } from './helpers.js';
import { cropRef, dotRef, permuteRef, repeatVectorRef, upsampleRef } from './oracle/layers.js';
import { concatRef } from './oracle/movement.js';

/** Merge and reshaping layers: forward against float64 oracles, gradients by finite differences. */

let before = 0;
afterEach(() => {
  expect(memory().numTensors).toBe(before);
});

function data(shape: number[], seed: number): { shape: number[]; data: Float32Array } {
  return {
    shape,
    data: randArray(
      shape.reduce((a, b) => a * b, 1),
      rng(seed),
    ),
  };
}

/** Forward output of `layer` on the inputs vs `oracle`, then its gradient vs finite differences. */
async function check(
  layer: Layer,
  inputs: Array<{ shape: number[]; data: Float32Array }>,
  oracle: (xs: Float64Array[]) => ArrayLike<number>,
  outShape: number[],
  tol = 1e-5,
): Promise<void> {
  before = memory().numTensors;
  const call = (...ts: Tensor[]) => layer.apply(ts.length === 1 ? ts[0] : ts);
  const xs = inputs.map((i) => tensor(i.data, i.shape));
  const y = tidy(() => call(...xs));
  expect(y.shape).toEqual(outShape);
  expectClose(
    await y.data(),
    oracle(inputs.map((i) => Float64Array.from(i.data))),
    { atol: tol, rtol: tol },
    layer.className,
  );
  for (const t of [y, ...xs]) t.dispose();
  await checkGrad({ f: call, oracle, inputs, label: layer.className });
  // getConfig -> layerFromConfig gives a layer that computes the same.
  const again = layerFromConfig({ className: layer.className, config: layer.getConfig() });
  expect(again.getConfig()).toEqual(layer.getConfig());
  again.dispose();
  layer.dispose();
}

const ew = (f: (a: number, b: number) => number) => (xs: Float64Array[]) =>
  xs[0].map((_, i) => xs.slice(1).reduce((acc, x) => f(acc, x[i]), xs[0][i]));

describe('merge layers', () => {
  const three = [data([2, 3, 4], 1), data([2, 3, 4], 2), data([2, 3, 4], 3)];
  it('Multiply', () =>
    check(
      new Multiply(),
      three,
      ew((a, b) => a * b),
      [2, 3, 4],
    ));
  it('Average', () =>
    check(new Average(), three, (xs) => xs[0].map((v, i) => (v + xs[1][i] + xs[2][i]) / 3), [2, 3, 4]));
  it('Maximum', () => check(new Maximum(), three, ew(Math.max), [2, 3, 4]));
  it('Minimum', () => check(new Minimum(), three, ew(Math.min), [2, 3, 4]));
  it('Subtract', () =>
    check(
      new Subtract(),
      three.slice(0, 2),
      ew((a, b) => a - b),
      [2, 3, 4],
    ));
  it('Concatenate on the last and a middle axis', async () => {
    const ins = [data([2, 3, 4], 4), data([2, 3, 2], 5)];
    await check(
      new Concatenate(),
      ins,
      (xs) => concatRef(xs.map((x, i) => ({ data: x, shape: ins[i].shape })) as never, 2).data as never,
      [2, 3, 6],
    );
    const mid = [data([2, 1, 4], 6), data([2, 3, 4], 7)];
    await check(
      new Concatenate({ axis: 1 }),
      mid,
      (xs) => concatRef(xs.map((x, i) => ({ data: x, shape: mid[i].shape })) as never, 1).data as never,
      [2, 4, 4],
    );
  });
  it('Dot on vectors (axes 1), with normalize (cosine similarity)', async () => {
    const ins = [data([3, 5], 8), data([3, 5], 9)];
    const ref = (norm: boolean) => (xs: Float64Array[]) =>
      dotRef(xs[0], [3, 5], xs[1], [3, 5], 1, 1, norm).data;
    await check(new Dot({ axes: 1 }), ins, ref(false), [3, 1]);
    await check(new Dot({ axes: -1, normalize: true }), ins, ref(true), [3, 1]);
  });
  it('Dot on sequences: axes [2, 1] is a batched matmul, axes [1, 1] contracts the steps', async () => {
    const a = data([2, 3, 4], 10);
    const b = data([2, 4, 5], 11);
    await check(
      new Dot({ axes: [2, 1] }),
      [a, b],
      (xs) => dotRef(xs[0], a.shape, xs[1], b.shape, 2, 1).data,
      [2, 3, 5],
    );
    const c = data([2, 3, 5], 12);
    await check(
      new Dot({ axes: [1, 1], normalize: true }),
      [a, c],
      (xs) => dotRef(xs[0], a.shape, xs[1], c.shape, 1, 1, true).data,
      [2, 4, 5],
    );
  });
});

describe('reshaping layers', () => {
  it('Permute', () => {
    const x = data([2, 3, 4, 2], 13);
    return check(
      new Permute({ dims: [3, 1, 2] }),
      [x],
      (xs) => permuteRef(xs[0], x.shape, [3, 1, 2]),
      [2, 2, 3, 4],
    );
  });
  it('RepeatVector', () =>
    check(
      new RepeatVector({ n: 3 }),
      [data([2, 4], 14)],
      (xs) => repeatVectorRef(xs[0], 2, 4, 3),
      [2, 3, 4],
    ));
  it('Cropping2D', () => {
    const x = data([2, 5, 6, 3], 15);
    const crop: [[number, number], [number, number]] = [
      [1, 2],
      [0, 3],
    ];
    return check(
      new Cropping2D({ cropping: crop }),
      [x],
      (xs) => cropRef(xs[0], x.shape, crop),
      [2, 2, 3, 3],
    );
  });
  it('UpSampling2D nearest and bilinear (half-pixel centres)', async () => {
    const x = data([2, 3, 4, 2], 16);
    await check(
      new UpSampling2D({ size: [2, 3] }),
      [x],
      (xs) => upsampleRef(xs[0], x.shape, [2, 3], 'nearest'),
      [2, 6, 12, 2],
    );
    await check(
      new UpSampling2D({ size: 3, interpolation: 'bilinear' }),
      [x],
      (xs) => upsampleRef(xs[0], x.shape, [3, 3], 'bilinear'),
      [2, 9, 12, 2],
    );
  });
});
