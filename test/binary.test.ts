import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DeviceError,
  DisposedTensorError,
  DTypeError,
  memory,
  randomUniform,
  ShapeError,
  sync,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import {
  add,
  div,
  equal,
  floorDiv,
  greater,
  greaterEqual,
  less,
  lessEqual,
  logicalAnd,
  logicalNot,
  logicalOr,
  maximum,
  minimum,
  mod,
  mul,
  notEqual,
  type Operand,
  pow,
  squaredDifference,
  sub,
} from '../src/kernels/binary.js';
import { type OpRecord, setRecorder } from '../src/tensor/record.js';
import { viewTensor } from '../src/tensor/tensor.js';
import { expectClose, randArray, randInts, rng, type Tol } from './helpers.js';
import { BINARY_F32, BINARY_I32, broadcastMap, Checks, COMPARE, type DT } from './oracle/elementwise.js';

type Binary = (a: Operand, b: Operand) => Tensor;
const ARITH: Record<string, Binary> = {
  add,
  sub,
  mul,
  div,
  floorDiv,
  mod,
  maximum,
  minimum,
  pow,
  squaredDifference,
};
const CMP: Record<string, Binary> = {
  equal,
  notEqual,
  less,
  lessEqual,
  greater,
  greaterEqual,
  logicalAnd,
  logicalOr,
};

// add/sub/mul/max/min are one correctly rounded float op; div may be approximate (WGSL: 2.5 ULP);
// pow goes through exp2/log2.
const TOL_F32: Record<string, Tol> = {
  add: { atol: 0, rtol: 0 },
  sub: { atol: 0, rtol: 0 },
  mul: { atol: 0, rtol: 0 },
  maximum: { atol: 0, rtol: 0 },
  minimum: { atol: 0, rtol: 0 },
  div: { atol: 0, rtol: 3e-7 },
  floorDiv: { atol: 0, rtol: 0 },
  mod: { atol: 1e-6, rtol: 0 },
  squaredDifference: { atol: 0, rtol: 3e-7 },
  pow: { atol: 1e-6, rtol: 1e-5 },
};

/**
 * Shape pairs: scalars, same shape (vec4 and odd sizes), size-1 operands, bias rows, outer
 * products, rank 4 and 6, and a random pair. `full: false` keeps a smaller set (the broadcast
 * indexing is shared by all ops; each op's formula needs fewer shapes).
 */
function pairs(r: () => number, full: boolean): number[][][] {
  const s = Array.from({ length: 1 + Math.floor(r() * 4) }, () => 1 + Math.floor(r() * 6));
  const t = s.slice(Math.floor(r() * s.length)).map((d) => (r() < 0.4 ? 1 : d));
  const rand = r() < 0.5 ? [s, t] : [t, s];
  const small = [
    [[], []],
    [[7], [7]],
    [[1000], [1000]],
    [[257], []],
    [[3, 4], [4]],
    [
      [3, 1],
      [1, 8],
    ],
    rand,
  ];
  if (!full) return small;
  const more = [
    [[1], [1]],
    [[], [64]],
    [[1], [3, 5]],
    [[5, 3], [3]],
    [
      [2, 3, 4, 5],
      [3, 1, 5],
    ],
  ];
  return [
    ...small,
    ...more,
    [
      [2, 1, 3, 1, 2, 4],
      [1, 3, 1, 2, 1, 4],
    ],
  ];
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Inputs for an op: divisors away from 0 (powers of two for floorDiv/mod, so quotients are exact). */
function data(op: string, dtype: DT, side: 0 | 1, n: number, r: () => number): Float32Array | Int32Array {
  if (dtype === 'int32') {
    if (op === 'pow') return side === 0 ? randInts(n, r, -5, 6) : randInts(n, r, -3, 9);
    if (op === 'div' || op === 'floorDiv' || op === 'mod')
      return side === 0 ? randInts(n, r, -50, 50) : randInts(n, r, -7, 8);
    if (op === 'maximum' || op === 'minimum') return randInts(n, r, -50, 50);
    // Full range, so that add/sub/mul wrap like int32.
    return randInts(n, r, -2147483648, 2147483647);
  }
  if (side === 1 && (op === 'floorDiv' || op === 'mod')) {
    return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * 2 ** (Math.floor(r() * 5) - 2));
  }
  if (side === 1 && op === 'div')
    return Float32Array.from(randArray(n, r, 0.5, 5), (v) => (r() < 0.5 ? -v : v));
  if (op === 'pow') {
    return side === 0
      ? randArray(n, r, -3, 3)
      : Float32Array.from(randArray(n, r, -3, 3), (v) => (r() < 0.6 ? Math.round(v * 2) / 2 : v));
  }
  return randArray(n, r, -10, 10);
}

describe('binary arithmetic with broadcasting', () => {
  for (const op of Object.keys(ARITH)) {
    for (const dtype of ['float32', 'int32'] as const) {
      it(`${op} ${dtype} matches the oracle on broadcast shapes`, async () => {
        const r = rng(op.length * 101 + (dtype === 'int32' ? 7 : 0));
        const ref = dtype === 'float32' ? BINARY_F32[op] : BINARY_I32[op];
        const tol = dtype === 'float32' ? TOL_F32[op] : { atol: 0, rtol: 0 };
        const checks = new Checks();
        for (const [sa, sb] of pairs(r, op === 'add' || op === 'sub')) {
          const a = { data: data(op, dtype, 0, size(sa), r), shape: sa };
          const b = { data: data(op, dtype, 1, size(sb), r), shape: sb };
          const y = ARITH[op](tensor(a.data, sa, dtype), tensor(b.data, sb, dtype));
          expect(y.dtype).toBe(dtype);
          checks.add(y, broadcastMap([a, b], dtype, ref), tol, `${op} ${JSON.stringify([sa, sb])}`);
        }
        // A number on either side takes the tensor's dtype (2.75 -> 2 for int32).
        const a = { data: data(op, dtype, 0, 12, r), shape: [3, 4] };
        const num = op === 'pow' ? 2 : 2.75;
        const k = dtype === 'int32' ? Math.trunc(num) : num;
        const ta = tensor(a.data, a.shape, dtype);
        checks.add(ARITH[op](ta, num), broadcastMap([a, k], dtype, ref), tol, `${op} number right`);
        const pos = {
          data: dtype === 'int32' ? randInts(12, r, 1, 9) : randArray(12, r, 0.5, 4),
          shape: [12],
        };
        checks.add(
          ARITH[op](num, tensor(pos.data, pos.shape, dtype)),
          broadcastMap([k, pos], dtype, ref),
          tol,
          `${op} number left`,
        );
        await checks.done();
      });
    }
  }

  it('keeps Math.pow and TF semantics on edge values', async () => {
    const a = new Float32Array([-2, -2, -2, 0, 0, 0, 2, NaN, 1, -8, Infinity, -1]);
    const b = new Float32Array([3, 2, 0.5, 0, -1, 2, -2, 0, NaN, 1 / 3, -1, Infinity]);
    const checks = new Checks();
    checks.add(
      pow(tensor(a), tensor(b)),
      broadcastMap(
        [
          { data: a, shape: [12] },
          { data: b, shape: [12] },
        ],
        'float32',
        Math.pow,
      ),
      TOL_F32.pow,
      'pow edge',
    );
    const x = new Float32Array([NaN, 1, NaN, -Infinity, 3]);
    const y = new Float32Array([1, NaN, NaN, 5, Infinity]);
    for (const op of ['maximum', 'minimum', 'add', 'mul']) {
      const exp = broadcastMap(
        [
          { data: x, shape: [5] },
          { data: y, shape: [5] },
        ],
        'float32',
        BINARY_F32[op],
      );
      checks.add(ARITH[op](tensor(x), tensor(y)), exp, TOL_F32[op], `${op} NaN`);
    }
    await checks.done();
    // int32: division by zero gives 0; MIN / -1 wraps.
    const ia = tensor([7, -7, 7, -7, 5, -2147483648], [6], 'int32');
    const ib = tensor([2, 2, -2, -2, 0, -1], [6], 'int32');
    expect(Array.from(await div(ia, ib).data())).toEqual([3, -4, -4, 3, 0, -2147483648]);
    expect(Array.from(await mod(ia, ib).data())).toEqual([1, 1, -1, -1, 0, 0]);
  });
});

describe('comparisons and logical ops', () => {
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    it(`compare ops on ${dtype} produce bool tensors matching the oracle`, async () => {
      const r = rng(dtype.length * 13);
      // Few distinct values so that ties are common; NaN in float32.
      const gen = (n: number) =>
        dtype === 'float32'
          ? Float32Array.from({ length: n }, () => (r() < 0.1 ? NaN : Math.floor(r() * 5) - 2))
          : randInts(n, r, dtype === 'bool' ? 0 : -2, dtype === 'bool' ? 2 : 3);
      const ops =
        dtype === 'bool' ? Object.keys(CMP) : Object.keys(CMP).filter((o) => !o.startsWith('logical'));
      const checks = new Checks();
      for (const op of ops) {
        for (const [sa, sb] of pairs(r, op === 'equal')) {
          const a = { data: gen(size(sa)), shape: sa };
          const b = { data: gen(size(sb)), shape: sb };
          const y = CMP[op](tensor(a.data, sa, dtype), tensor(b.data, sb, dtype));
          expect(y.dtype).toBe('bool');
          checks.add(
            y,
            broadcastMap([a, b], 'bool', COMPARE[op]),
            {},
            `${op} ${dtype} ${JSON.stringify([sa, sb])}`,
          );
        }
        const a = { data: gen(9), shape: [9] };
        const y = CMP[op](tensor(a.data, a.shape, dtype), 1);
        checks.add(y, broadcastMap([a, 1], 'bool', COMPARE[op]), {}, `${op} number`);
      }
      await checks.done();
    });
  }

  it('logicalNot flips bools', async () => {
    for (const n of [1, 5, 1000]) {
      const x = randInts(n, rng(n), 0, 2);
      const y = logicalNot(tensor(x, [n], 'bool'));
      expect(y.dtype).toBe('bool');
      expect(Array.from(await y.data())).toEqual(Array.from(x, (v) => 1 - v));
    }
  });
});

describe('binary errors, records, memory and big tensors', () => {
  it('rejects bad operands with typed errors naming op, arguments and values', () => {
    const f = tensor([1, 2, 3]);
    const i = tensor([1, 2, 3], [3], 'int32');
    const bl = tensor([true, false, true]);
    expect(() => add(f, i)).toThrow(DTypeError);
    expect(() => add(f, i)).toThrow(/add: a has dtype float32 but b has dtype int32/);
    expect(() => add(tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([1, 2, 3, 4]))).toThrow(ShapeError);
    expect(() => add(tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([1, 2, 3, 4]))).toThrow(
      /add: shapes \[2,3\] and \[4\] cannot be broadcast/,
    );
    expect(() => mul(bl, bl)).toThrow(/mul: a must have dtype float32 or int32, got bool/);
    expect(() => logicalAnd(f, f)).toThrow(/logicalAnd: a must have dtype bool, got float32/);
    expect(() => logicalNot(i)).toThrow(/logicalNot: x must have dtype bool, got int32/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => sub(f, 'x' as any)).toThrow(/sub: b must be a Tensor or a number, got string/);
    expect(() => div(2, 3)).toThrow(ArgumentError);
    expect(() => div(2, 3)).toThrow(/div: at least one of a, b must be a Tensor/);
    const d = tensor([1]);
    d.dispose();
    expect(() => greater(d, 1)).toThrow(DisposedTensorError);
    expect(() => greater(d, 1)).toThrow(/greater: a/);
  });

  it('records both inputs, as tensors, while a tape records', () => {
    const records: OpRecord[] = [];
    const x = tensor([1, 2]);
    const prev = setRecorder((r) => records.push(r));
    let y: Tensor;
    try {
      y = mul(3, x);
      equal(x, x);
    } finally {
      setRecorder(prev);
    }
    expect(records.map((r) => r.op)).toEqual(['mul', 'equal']);
    expect(records[0].inputs[1]).toBe(x);
    expect(records[0].inputs[0].shape).toEqual([]);
    expect(records[0].output).toBe(y);
    records[0].inputs[0].dispose();
  });

  it('leaves memory() as it found it after a tidy over every op', async () => {
    const a = tensor(randArray(12, rng(3), 1, 3), [3, 4]);
    const b = tensor(randArray(4, rng(4), 1, 3), [4]);
    const ai = tensor(randInts(12, rng(5), 1, 9), [3, 4], 'int32');
    const bb = tensor([true, false, true, true]);
    const run = () =>
      tidy(() => {
        for (const f of Object.values(ARITH)) {
          f(a, b);
          f(ai, 3);
          f(2, b);
        }
        for (const op of ['equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual']) CMP[op](a, b);
        logicalAnd(bb, bb);
        logicalOr(bb, 1);
        logicalNot(bb);
      });
    const start = memory();
    run();
    await sync();
    const after = memory();
    expect(after.numTensors).toBe(start.numTensors);
    expect(after.numBytes).toBe(start.numBytes);
    run();
    await sync();
    expect(memory()).toEqual(after);
    for (const t of [a, b, ai, bb]) t.dispose();
  });

  it('adds tensors over the 128 MiB binding limit (chunked) with same-shape and broadcast operands', async () => {
    const n = 33_600_000;
    const a = randomUniform([n], -1, 1, { seed: 1 });
    const b = randomUniform([n], -1, 1, { seed: 2 });
    const s = tensor([0.5]);
    const c = add(add(a, b), s);
    // A broadcast row whose output spans both chunks (a chunk boundary falls inside row 1).
    const row = randomUniform([n / 2], -1, 1, { seed: 3 });
    const a2 = viewTensor(a, [2, n / 2]);
    const e = add(a2, row);
    const [ad, bd, cd, rd, ed] = await Promise.all([a, b, c, row, e].map((t) => t.data()));
    const idx: number[] = [];
    for (let i = 0; i < n; i += 997) idx.push(i);
    for (let i = 33_554_432 - 5; i < 33_554_432 + 5; i++) idx.push(i);
    idx.push(n - 1);
    const f32 = (v: number) => Math.fround(v);
    expectClose(
      idx.map((i) => cd[i]),
      idx.map((i) => f32(f32(ad[i] + bd[i]) + 0.5)),
      { atol: 0, rtol: 0 },
      'a+b+s',
    );
    expectClose(
      idx.map((i) => ed[i]),
      idx.map((i) => f32(ad[i] + rd[i % (n / 2)])),
      { atol: 0, rtol: 0 },
      'a+row',
    );
    // A broadcast operand over the limit cannot be split: a clear DeviceError.
    const a1 = viewTensor(a, [1, n]);
    const z = zeros([2, 1]);
    expect(() => add(a1, z)).toThrow(DeviceError);
    expect(() => add(a1, z)).toThrow(/add: a of shape \[1,33600000\].*maxStorageBufferBindingSize/);
    for (const t of [a, b, s, c, row, a2, e, a1, z]) t.dispose();
  });
});
