import { afterEach, describe, expect, it, vi } from 'vitest';
import * as wn from '../src/index.js';
import { type DataArray, grad, memory, type Tensor, tensor, tidy } from '../src/index.js';

// Each op method must give exactly what the function of the same name gives (it is the same
// kernel), keep the argument checks of the function, and record for autograd.

const x = () =>
  tensor([
    [1.5, -2, 3],
    [0.25, 4, -0.5],
  ]);
const y = () =>
  tensor([
    [2, 0.5, -1],
    [3, 1, 2],
  ]);
const pos = () =>
  tensor([
    [1.5, 2, 3],
    [0.25, 4, 0.5],
  ]);

type Case = [name: string, method: (t: Tensor) => Tensor, fn: (t: Tensor) => Tensor, input?: () => Tensor];
const CASES: Case[] = [
  ['add', (t) => t.add(y()), (t) => wn.add(t, y())],
  ['add scalar', (t) => t.add(2), (t) => wn.add(t, 2)],
  ['sub', (t) => t.sub(y()), (t) => wn.sub(t, y())],
  ['mul', (t) => t.mul(y()), (t) => wn.mul(t, y())],
  ['div', (t) => t.div(y()), (t) => wn.div(t, y())],
  ['pow', (t) => t.pow(2), (t) => wn.pow(t, 2)],
  ['maximum', (t) => t.maximum(y()), (t) => wn.maximum(t, y())],
  ['minimum', (t) => t.minimum(y()), (t) => wn.minimum(t, y())],
  ['squaredDifference', (t) => t.squaredDifference(y()), (t) => wn.squaredDifference(t, y())],
  ['equal', (t) => t.equal(3), (t) => wn.equal(t, 3)],
  ['notEqual', (t) => t.notEqual(3), (t) => wn.notEqual(t, 3)],
  ['greater', (t) => t.greater(y()), (t) => wn.greater(t, y())],
  ['greaterEqual', (t) => t.greaterEqual(y()), (t) => wn.greaterEqual(t, y())],
  ['less', (t) => t.less(y()), (t) => wn.less(t, y())],
  ['lessEqual', (t) => t.lessEqual(y()), (t) => wn.lessEqual(t, y())],
  ['matmul', (t) => t.matmul(y(), { transposeB: true }), (t) => wn.matmul(t, y(), { transposeB: true })],
  ['reshape', (t) => t.reshape([3, -1]), (t) => wn.reshape(t, [3, -1])],
  ['flatten', (t) => t.flatten(), (t) => wn.reshape(t, [6])],
  ['expandDims', (t) => t.expandDims(1), (t) => wn.expandDims(t, 1)],
  ['squeeze', (t) => t.expandDims().squeeze(), (t) => wn.squeeze(wn.expandDims(t))],
  ['transpose', (t) => t.transpose(), (t) => wn.transpose(t)],
  ['sum', (t) => t.sum(), (t) => wn.sum(t)],
  ['sum axis', (t) => t.sum(1, true), (t) => wn.sum(t, 1, true)],
  ['mean', (t) => t.mean(0), (t) => wn.mean(t, 0)],
  ['max', (t) => t.max(), (t) => wn.max(t)],
  ['min', (t) => t.min([0, 1]), (t) => wn.min(t, [0, 1])],
  ['prod', (t) => t.prod(1), (t) => wn.prod(t, 1)],
  ['argMax', (t) => t.argMax(1), (t) => wn.argMax(t, 1)],
  ['argMin', (t) => t.argMin(), (t) => wn.argMin(t)],
  ['softmax', (t) => t.softmax(), (t) => wn.softmax(t)],
  ['logSoftmax', (t) => t.logSoftmax(0), (t) => wn.logSoftmax(t, 0)],
  ['exp', (t) => t.exp(), (t) => wn.exp(t)],
  ['log', (t) => t.log(), (t) => wn.log(t), pos],
  ['square', (t) => t.square(), (t) => wn.square(t)],
  ['sqrt', (t) => t.sqrt(), (t) => wn.sqrt(t), pos],
  ['rsqrt', (t) => t.rsqrt(), (t) => wn.rsqrt(t), pos],
  ['abs', (t) => t.abs(), (t) => wn.abs(t)],
  ['neg', (t) => t.neg(), (t) => wn.neg(t)],
  ['relu', (t) => t.relu(), (t) => wn.relu(t)],
  ['sigmoid', (t) => t.sigmoid(), (t) => wn.sigmoid(t)],
  ['tanh', (t) => t.tanh(), (t) => wn.tanh(t)],
  ['clipByValue', (t) => t.clipByValue(-1, 2), (t) => wn.clipByValue(t, -1, 2)],
  ['cast', (t) => t.cast('int32'), (t) => wn.cast(t, 'int32')],
];

function same(a: DataArray, b: DataArray): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe('Tensor op methods', () => {
  const before = memory().numTensors;
  afterEach(() => expect(memory().numTensors).toBe(before));

  it.each(CASES)('%s gives what the function gives', async (_name, method, fn, input = x) => {
    const [m, f] = tidy(() => {
      const t = input();
      return [method(t), fn(t)];
    });
    try {
      expect(m.shape).toEqual(f.shape);
      expect(m.dtype).toBe(f.dtype);
      expect(same(await m.data(), await f.data())).toBe(true);
    } finally {
      m.dispose();
      f.dispose();
    }
  });

  it('chains as TensorFlow.js code does: x.add(y).relu().sum()', async () => {
    const out = tidy(() => x().add(y()).relu().sum());
    // relu(x + y) by hand: [3.5, 0, 2, 3.25, 5, 1.5]
    expect(await out.array()).toBeCloseTo(15.25, 5);
    out.dispose();
  });

  it('records for autograd: d/dx sum(x^2 * 3) = 6x', async () => {
    const g = grad((t: Tensor) => t.square().mul(3).sum());
    const out = tidy(() => g(x()));
    expect(await out.array()).toEqual([
      [9, -12, 18],
      [1.5, 24, -3],
    ]);
    out.dispose();
  });

  it('keeps the checks of the function form (errors name the function)', () => {
    const t = x();
    const b = tensor([1, 2]);
    try {
      expect(() => t.reshape([4, 2])).toThrow(/reshape/);
      expect(() => t.matmul(t)).toThrow(/matmul/);
      expect(() => t.add(b)).toThrow(/add/);
    } finally {
      t.dispose();
      b.dispose();
    }
  });

  it('print() logs the shape line and the values', async () => {
    const t = tensor([
      [1, 2],
      [3, 4.5],
    ]);
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      lines.push(a.join(' '));
    });
    try {
      await t.print();
    } finally {
      spy.mockRestore();
      t.dispose();
    }
    expect(lines).toEqual(['Tensor(shape=[2,2], dtype=float32)\n[[1, 2], [3, 4.5]]']);
  });

  it('are not enumerable (object spreads and for-in over a tensor stay as they were)', () => {
    expect(Object.keys(wn.Tensor.prototype)).not.toContain('add');
    expect(Object.getOwnPropertyDescriptor(wn.Tensor.prototype, 'add')?.enumerable).toBe(false);
  });
});
