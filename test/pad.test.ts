import { describe, expect, it } from 'vitest';
import { ArgumentError, DTypeError, tensor, zeros } from '../src/index.js';
import { pad } from '../src/kernels/pad.js';
import { type OpRecord, setRecorder } from '../src/tensor/record.js';
import { randArray, randInts, randShape, rng } from './helpers.js';
import { padRef } from './oracle/conv.js';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('pad', () => {
  it('matches the oracle for random ranks 0-5, paddings and values', async () => {
    const r = rng(12);
    for (let iter = 0; iter < 24; iter++) {
      const rank = iter % 6;
      const shape = randShape(rank, r, 5);
      const paddings = shape.map(() => [Math.floor(r() * 3), Math.floor(r() * 3)] as [number, number]);
      const value = iter % 3 === 0 ? 0 : Math.round(r() * 10 - 5);
      const xd = randArray(size(shape), r);
      const y = pad(tensor(xd, shape), paddings, value);
      expect(y.shape).toEqual(shape.map((d, i) => d + paddings[i][0] + paddings[i][1]));
      const ref = padRef(xd, shape, paddings, value);
      expect(Array.from(await y.data()), `${JSON.stringify(shape)} ${JSON.stringify(paddings)}`).toEqual(
        Array.from(Float32Array.from(ref)),
      );
    }
  });

  it('pads NHWC height and width (ZeroPadding2D((0,1),(0,1))), vec4 channels and odd channels', async () => {
    for (const c of [8, 3]) {
      const shape = [2, 5, 3, c];
      const xd = randArray(size(shape), rng(c));
      const p: Array<[number, number]> = [
        [0, 0],
        [0, 1],
        [0, 1],
        [0, 0],
      ];
      const y = pad(tensor(xd, shape), p);
      expect(y.shape).toEqual([2, 6, 4, c]);
      expect(Array.from(await y.data())).toEqual(Array.from(Float32Array.from(padRef(xd, shape, p))));
    }
  });

  it('pads int32 and bool tensors, and empty inputs', async () => {
    const xi = randInts(6, rng(2), -9, 9);
    const yi = pad(
      tensor(xi, [2, 3], 'int32'),
      [
        [1, 0],
        [0, 2],
      ],
      7,
    );
    expect(yi.dtype).toBe('int32');
    expect(Array.from(await yi.data())).toEqual(
      Array.from(
        padRef(
          xi,
          [2, 3],
          [
            [1, 0],
            [0, 2],
          ],
          7,
        ),
      ),
    );
    const yb = pad(tensor([1, 0], [2], 'bool'), [[1, 1]], 1);
    expect(Array.from(await yb.data())).toEqual([1, 1, 0, 1]);
    const ye = pad(
      zeros([0, 2]),
      [
        [1, 0],
        [1, 1],
      ],
      3,
    );
    expect(ye.shape).toEqual([1, 4]);
    expect(Array.from(await ye.data())).toEqual([3, 3, 3, 3]);
  });

  it('records the op', () => {
    const recs: OpRecord[] = [];
    const prev = setRecorder((rec) => recs.push(rec));
    try {
      const x = zeros([2, 2]);
      const y = pad(x, [
        [0, 1],
        [2, 0],
      ]);
      expect(recs[0]).toEqual({
        op: 'pad',
        inputs: [x],
        output: y,
        attrs: {
          paddings: [
            [0, 1],
            [2, 0],
          ],
          constantValue: 0,
        },
      });
    } finally {
      setRecorder(prev);
    }
  });

  it('rejects bad arguments with typed errors', () => {
    const x = zeros([2, 3]);
    expect(() => pad(x, [[1, 1]])).toThrow(
      'pad: paddings must be 2 pairs [before, after] of non-negative integers for x [2,3]',
    );
    expect(() =>
      pad(x, [
        [1, -1],
        [0, 0],
      ]),
    ).toThrow(ArgumentError);
    expect(() =>
      pad(x, [
        [1, 0.5],
        [0, 0],
      ]),
    ).toThrow(ArgumentError);
    expect(() =>
      pad(
        x,
        [
          [0, 0],
          [0, 0],
        ],
        Number.NaN,
      ),
    ).not.toThrow();
    expect(() => pad(zeros([2], 'int32'), [[0, 0]], Number.NaN)).toThrow(ArgumentError);
    expect(() =>
      pad(
        x,
        [
          [0, 0],
          [0, 0],
        ],
        '1' as unknown as number,
      ),
    ).toThrow(ArgumentError);
    expect(() => pad('x' as unknown as ReturnType<typeof zeros>, [])).toThrow(DTypeError);
  });
});
