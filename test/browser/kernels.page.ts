/**
 * Page entry of the browser kernel checks: runs a subset of the kernels on the page's WebGPU
 * device (through the browser bundle, dist/browser/wgsl-nn.js) against the CPU oracles on random
 * shapes, including sizes off the workgroup grid, and reports the worst error of each case. Bundled
 * by test/browser/web.test.ts; `window.runKernelChecks(seed)` is called by the test (and
 * `window.runDecodeChecks(files)`, from decode.page.ts).
 */
import {
  add,
  conv2d,
  depthwiseConv2d,
  deviceInfo,
  getDevice,
  matmul,
  max,
  mean,
  softmax,
  sum,
  type Tensor,
  tensor,
  transpose,
} from '../../src/index.js';
import { randArray, randShape, rng, type Tol } from '../helpers.js';
import { conv2dRef, depthwiseRef, type RefPadding } from '../oracle/conv.js';
import { BINARY_F32, broadcastMap } from '../oracle/elementwise.js';
import { matmulOracle } from '../oracle/matmul.js';
import { transposeRef } from '../oracle/movement.js';
import { reduceRef, softmaxRef } from '../oracle/reduce.js';
import { runDecodeChecks } from './decode.page.js';

export interface CaseResult {
  op: string;
  label: string;
  size: number;
  maxAbsErr: number;
  /** max(|got - want| - (atol + rtol |want|)); <= 0 passes. */
  worstExcess: number;
  error?: string;
}

export interface KernelReport {
  adapter: string;
  limits: Record<string, number>;
  cases: CaseResult[];
}

function compare(
  op: string,
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: Tol,
): CaseResult {
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-5;
  if (got.length !== want.length) {
    return {
      op,
      label,
      size: want.length,
      maxAbsErr: Number.POSITIVE_INFINITY,
      worstExcess: Number.POSITIVE_INFINITY,
      error: `length ${got.length}, expected ${want.length}`,
    };
  }
  let maxAbsErr = 0;
  let worstExcess = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const e = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
    maxAbsErr = Math.max(maxAbsErr, e);
    worstExcess = Math.max(worstExcess, e - (atol + rtol * Math.abs(want[i])));
  }
  return { op, label, size: want.length, maxAbsErr, worstExcess: want.length ? worstExcess : 0 };
}

async function read(t: Tensor, ...inputs: Tensor[]): Promise<Float32Array> {
  const d = (await t.data()) as Float32Array;
  t.dispose();
  for (const x of inputs) x.dispose();
  return d;
}

const s = (shape: readonly number[]) => `[${shape.join(',')}]`;

async function runKernelChecks(seed: number): Promise<KernelReport> {
  await getDevice();
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const cases: CaseResult[] = [];
  const guard = async (op: string, label: string, f: () => Promise<CaseResult>) => {
    try {
      cases.push(await f());
    } catch (e) {
      cases.push({ op, label, size: 0, maxAbsErr: NaN, worstExcess: NaN, error: (e as Error).message });
    }
  };

  // matmul: odd M, K, N (off every tile), batch broadcasting, transposes, fused bias + activation.
  const mm: Array<{ a: number[]; b: number[]; tA?: boolean; tB?: boolean; bias?: boolean }> = [
    { a: [1, 1], b: [1, 1] },
    { a: [int(2, 70), int(2, 70)], b: [] },
    { a: [3, int(2, 40), 33], b: [33, int(2, 40)] },
    { a: [2, 1, 17, 9], b: [3, 9, 65] },
    { a: [int(2, 50), 31], b: [int(2, 50), 31], tB: true, bias: true },
    { a: [19, int(2, 50)], b: [19, 130], tA: true },
  ];
  for (const c of mm) {
    if (c.b.length === 0) c.b = [c.a[1], int(1, 70)];
    const K = c.tA ? c.a[c.a.length - 2] : c.a[c.a.length - 1];
    const N = c.tB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
    const label = `${s(c.a)}${c.tA ? 'ᵀ' : ''} x ${s(c.b)}${c.tB ? 'ᵀ' : ''}${c.bias ? ' + bias, relu' : ''}`;
    await guard('matmul', label, async () => {
      const ad = randArray(
        c.a.reduce((p, d) => p * d, 1),
        r,
      );
      const bd = randArray(
        c.b.reduce((p, d) => p * d, 1),
        r,
      );
      const biasD = c.bias ? randArray(N, r) : undefined;
      const [ta, tb] = [tensor(ad, c.a), tensor(bd, c.b)];
      const tbias = biasD ? tensor(biasD, [N]) : undefined;
      const y = matmul(ta, tb, {
        transposeA: c.tA,
        transposeB: c.tB,
        bias: tbias,
        activation: c.bias ? 'relu' : undefined,
      });
      const want = matmulOracle(ad, c.a, bd, c.b, {
        transposeA: c.tA,
        transposeB: c.tB,
        bias: biasD,
        activation: c.bias ? 'relu' : 'linear',
      });
      const got = await read(y, ta, tb, ...(tbias ? [tbias] : []));
      return compare('matmul', label, got, want.data, { atol: 1e-5 * (1 + Math.sqrt(K)), rtol: 1e-4 });
    });
  }

  // add with broadcasting, ranks 0-4.
  for (let i = 0; i < 6; i++) {
    const rank = i === 0 ? 0 : int(1, 4);
    // Both operands broadcast to `out`: size-1 dims on either side, b possibly of lower rank.
    const out = randShape(rank, r, 9);
    const sa = out.map((d) => (r() < 0.3 ? 1 : d));
    const sb = out.slice(int(0, rank)).map((d) => (r() < 0.3 ? 1 : d));
    const label = `${s(sa)} + ${s(sb)}`;
    await guard('add', label, async () => {
      const ad = randArray(
        sa.reduce((p, d) => p * d, 1),
        r,
        -10,
        10,
      );
      const bd = randArray(
        sb.reduce((p, d) => p * d, 1),
        r,
        -10,
        10,
      );
      const [ta, tb] = [tensor(ad, sa), tensor(bd, sb)];
      const want = broadcastMap(
        [
          { data: ad, shape: sa },
          { data: bd, shape: sb },
        ],
        'float32',
        BINARY_F32.add,
      );
      return compare('add', label, await read(add(ta, tb), ta, tb), want.data, { atol: 0, rtol: 0 });
    });
  }

  // softmax along the last and the first axis.
  for (const [shape, axis] of [
    [[1], -1],
    [[int(2, 9), 1001], -1],
    [[int(2, 5), int(2, 7), 33], -1],
    [[37, int(2, 9)], 0],
  ] as Array<[number[], number]>) {
    const label = `${s(shape)} axis ${axis}`;
    await guard('softmax', label, async () => {
      const d = randArray(
        shape.reduce((p, v) => p * v, 1),
        r,
        -20,
        20,
      );
      const t = tensor(d, shape);
      const a = axis < 0 ? shape.length + axis : axis;
      return compare('softmax', label, await read(softmax(t, axis), t), softmaxRef('softmax', d, shape, a), {
        atol: 1e-6,
        rtol: 1e-5,
      });
    });
  }

  // conv2d and depthwise: odd spatial sizes, channel counts on and off vec4, strides, padding.
  const convs: Array<{ x: number[]; f: number[]; st: number; p: RefPadding; act?: boolean }> = [
    { x: [1, 1, 1, 1], f: [1, 1, 1, 1], st: 1, p: 'valid' },
    { x: [2, int(5, 13), int(5, 13), 3], f: [3, 3, 3, 5], st: 1, p: 'same' },
    { x: [1, int(6, 15), int(6, 15), 8], f: [3, 3, 8, 12], st: 2, p: 'same', act: true },
    { x: [1, 9, 7, 16], f: [1, 1, 16, 36], st: 1, p: 'valid' },
    {
      x: [2, 8, 11, 4],
      f: [3, 3, 4, 8],
      st: 2,
      p: [
        [0, 1],
        [1, 1],
      ],
    },
  ];
  for (const c of convs) {
    const label = `x ${s(c.x)} f ${s(c.f)} stride ${c.st} ${typeof c.p === 'string' ? c.p : JSON.stringify(c.p)}${c.act ? ' bias relu6' : ''}`;
    const k = c.f[0] * c.f[1] * c.f[2];
    await guard('conv2d', label, async () => {
      const xd = randArray(
        c.x.reduce((p, d) => p * d, 1),
        r,
      );
      const fd = randArray(
        c.f.reduce((p, d) => p * d, 1),
        r,
      );
      const bd = c.act ? randArray(c.f[3], r) : undefined;
      const [tx, tf] = [tensor(xd, c.x), tensor(fd, c.f)];
      const tbias = bd ? tensor(bd, [c.f[3]]) : undefined;
      const y = conv2d(tx, tf, c.st, c.p, c.act ? { bias: tbias, activation: 'relu6' } : {});
      const want = conv2dRef(xd, c.x, fd, c.f, c.st, c.p, bd, c.act ? 'relu6' : 'linear');
      const got = await read(y, tx, tf, ...(tbias ? [tbias] : []));
      return compare('conv2d', label, got, want, { atol: 3e-6 * k, rtol: 1e-5 });
    });
    const df = [c.f[0], c.f[1], c.x[3], c.f === convs[1].f ? 2 : 1];
    const dlabel = `x ${s(c.x)} f ${s(df)} stride ${c.st} ${typeof c.p === 'string' ? c.p : 'explicit'}${c.act ? ' bias relu6' : ''}`;
    await guard('depthwiseConv2d', dlabel, async () => {
      const xd = randArray(
        c.x.reduce((p, d) => p * d, 1),
        r,
      );
      const fd = randArray(
        df.reduce((p, d) => p * d, 1),
        r,
      );
      const co = df[2] * df[3];
      const bd = c.act ? randArray(co, r) : undefined;
      const [tx, tf] = [tensor(xd, c.x), tensor(fd, df)];
      const tbias = bd ? tensor(bd, [co]) : undefined;
      const y = depthwiseConv2d(tx, tf, c.st, c.p, c.act ? { bias: tbias, activation: 'relu6' } : {});
      const want = depthwiseRef(xd, c.x, fd, df, c.st, c.p, bd, c.act ? 'relu6' : 'linear');
      const got = await read(y, tx, tf, ...(tbias ? [tbias] : []));
      return compare('depthwiseConv2d', dlabel, got, want, { atol: 3e-6 * df[0] * df[1], rtol: 1e-5 });
    });
  }

  // Reductions over random axes (sizes up to a few thousand elements per group).
  const reds: Array<{ kind: 'sum' | 'mean' | 'max'; shape: number[]; axes: number[] }> = [
    { kind: 'sum', shape: [int(1000, 5000)], axes: [0] },
    { kind: 'sum', shape: [int(2, 9), int(2, 300), 3], axes: [1] },
    { kind: 'mean', shape: [5, int(2, 60), int(2, 60)], axes: [0, 2] },
    { kind: 'max', shape: [int(2, 9), 7, int(2, 9), 129], axes: [3] },
    { kind: 'max', shape: [1], axes: [0] },
  ];
  const redFns = { sum, mean, max };
  for (const c of reds) {
    const label = `${c.kind} ${s(c.shape)} axes ${s(c.axes)}`;
    await guard('reduce', label, async () => {
      const d = randArray(
        c.shape.reduce((p, v) => p * v, 1),
        r,
      );
      const t = tensor(d, c.shape);
      const R = c.axes.reduce((p, a) => p * c.shape[a], 1);
      const want = reduceRef(c.kind, d, c.shape, c.axes);
      const tol =
        c.kind === 'mean'
          ? { atol: 1e-6, rtol: 1e-5 }
          : { atol: 1e-6 * Math.max(1, Math.sqrt(R)), rtol: 1e-5 };
      return compare('reduce', label, await read(redFns[c.kind](t, c.axes), t), want, tol);
    });
  }

  // transpose: random permutations of ranks 2-4, odd sizes.
  for (const rank of [2, 3, 4, 4]) {
    const shape = randShape(rank, r, 13);
    const perm = Array.from({ length: rank }, (_, i) => i);
    for (let i = rank - 1; i > 0; i--) {
      const j = int(0, i);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const label = `${s(shape)} perm ${s(perm)}`;
    await guard('transpose', label, async () => {
      const d = randArray(
        shape.reduce((p, v) => p * v, 1),
        r,
      );
      const t = tensor(d, shape);
      const want = transposeRef({ data: d, shape }, perm);
      return compare('transpose', label, await read(transpose(t, perm), t), want.data, { atol: 0, rtol: 0 });
    });
  }

  const info = deviceInfo();
  return {
    adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' / '),
    limits: { ...info.limits },
    cases,
  };
}

(window as unknown as { runKernelChecks: typeof runKernelChecks }).runKernelChecks = runKernelChecks;
(window as unknown as { runDecodeChecks: typeof runDecodeChecks }).runDecodeChecks = runDecodeChecks;
document.body.dataset.ready = '1';
