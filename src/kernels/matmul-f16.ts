import { deviceFacts } from '../tensor/device-info.js';
import { ArgumentError, fmtShape } from '../tensor/errors.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, activationWgsl } from './activation.js';
import { defineKernel } from './program.js';
import { assertBindable, grid } from './util.js';

/**
 * The f16 path of `matmul(a, b, { precision: 'f16' })` on adapters with `shader-f16`: both operands
 * are converted once to half-precision copies (zero-padded to whole quads along K and N, transposes
 * resolved), and a register-blocked kernel (4 x 4 outputs per lane) reads them as vec4<f16>, i.e.
 * half the bytes of the f32 kernels, multiplying and accumulating in f32. The error is that of
 * rounding the operands to f16 (relative 2^-11 each; values past 65504 become infinite).
 * Measured on lavapipe (test/matmul-f16.test.ts, scripts/gpu-check.ts): see bench/README.md.
 */

/** Matmul operand precision: 'f32' (exact f32 kernels) or 'f16' (operands rounded to half precision, f32 accumulation). */
export type Precision = 'f32' | 'f16';

/** A logical [R, C] matrix with source strides (rs, cs), as a row-major f16 copy of [R, Cp]. */
const toHalf = defineKernel({
  name: 'matmul_to_f16',
  bindings: { x: 'read f32', h: 'rw vec2<f16>' },
  uniforms: { n: 'u32', Rv: 'u32', C: 'u32', Cp: 'u32', rs: 'u32', cs: 'u32' },
  enables: ['f16'],
  index: { total: 'n' },
  helpers: () => `fn at(r: u32, c: u32) -> f16 {
  if (r >= p.Rv || c >= p.C) { return f16(0.0); }
  return f16(x[r * p.rs + c * p.cs]);
}`,
  body: () => `  let e = 2u * i;
  let r = e / p.Cp;
  let c = e % p.Cp;
  h[i] = vec2<f16>(at(r, c), at(r, c + 1u));`,
});

const tileF16 = defineKernel<
  { bias: boolean; act: Activation },
  'a' | 'b' | 'c' | 'bias',
  'M' | 'N' | 'K4' | 'N4'
>({
  name: 'matmul_f16',
  bindings: ({ bias }) => ({
    a: 'read vec4<f16>',
    b: 'read vec4<f16>',
    c: 'rw f32',
    bias: bias ? 'read f32' : null,
  }),
  uniforms: { M: 'u32', N: 'u32', K4: 'u32', N4: 'u32' },
  enables: ['f16'],
  workgroupSize: [8, 8, 1],
  builtins: ['gid'],
  body: ({ bias, act }) => {
    const rows = [0, 1, 2, 3];
    const loadA = rows.map((r) => `    let a${r} = vec4f(a[ar${r} + k4]);`).join('\n');
    const loadB = rows.map((i) => `    let b${i} = vec4f(b[(4u * k4 + ${i}u) * p.N4 + n4]);`).join('\n');
    const fmas = rows
      .map(
        (r) =>
          `    acc${r} = fma(vec4f(a${r}.w), b3, fma(vec4f(a${r}.z), b2, fma(vec4f(a${r}.y), b1, fma(vec4f(a${r}.x), b0, acc${r}))));`,
      )
      .join('\n');
    const out = activationWgsl(act, `acc[j] + ${bias ? 'bias[n]' : '0.0'}`);
    return `  let n4 = gid.x;
  let m0 = 4u * gid.y;
  if (n4 >= p.N4 || m0 >= p.M) { return; }
${rows.map((r) => `  let ar${r} = min(m0 + ${r}u, p.M - 1u) * p.K4;\n  var acc${r} = vec4f(0.0);`).join('\n')}
  for (var k4 = 0u; k4 < p.K4; k4++) {
${loadA}
${loadB}
${fmas}
  }
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= p.M) { break; }
    let acc = select(select(select(acc3, acc2, r == 2u), acc1, r == 1u), acc0, r == 0u);
    for (var j = 0u; j < 4u; j++) {
      let n = 4u * n4 + j;
      if (n < p.N) { c[m * p.N + n] = ${out}; }
    }
  }`;
  },
});

/** The shape, transposes, activation and bias of an f16 matmul. */
export interface F16Problem {
  M: number;
  N: number;
  K: number;
  tA: boolean;
  tB: boolean;
  act: Activation;
  bias?: Tensor;
}

/** The `precision` option of matmul and the convs: 'f32' when absent; an ArgumentError naming `op` otherwise. */
export function checkPrecision(precision: unknown, op: string): Precision {
  if (precision === undefined) return 'f32';
  if (precision !== 'f32' && precision !== 'f16')
    throw new ArgumentError(`${op}: precision must be 'f32' or 'f16', got ${JSON.stringify(precision)}`);
  return precision;
}

/** Checks `precision`; true when the f16 path runs (rank-2 operands on an adapter with shader-f16). */
export function useF16(precision: unknown, a: Tensor, b: Tensor): boolean {
  if (checkPrecision(precision, 'matmul') === 'f32') return false;
  if (a.rank !== 2 || b.rank !== 2) {
    throw new ArgumentError(
      `matmul: precision 'f16' takes rank-2 operands, got a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}`,
    );
  }
  assertBindable(a, 'matmul', 'a');
  assertBindable(b, 'matmul', 'b');
  return deviceFacts().hasF16;
}

/** An f16 copy of a logical [R, C] matrix: R rows (Rv of them from x), C columns padded to Cp. */
function half(x: Tensor, R: number, Rv: number, C: number, Cp: number, rs: number, cs: number): Tensor {
  const h = emptyTensor([(R * Cp) / 2], 'float32');
  const n = (R * Cp) / 2;
  toHalf.run({ buffers: { x, h }, uniforms: { n, Rv, C, Cp, rs, cs }, workgroups: grid(n) });
  return h;
}

/** Writes act(op(a) @ op(b) + bias) into `out` [M, N] through f16 copies of a and b. */
export function matmulF16(a: Tensor, b: Tensor, out: Tensor, p: F16Problem): void {
  const { M, N, K } = p;
  const Kp = Math.ceil(K / 4) * 4;
  const Np = Math.ceil(N / 4) * 4;
  const ah = half(a, M, M, K, Kp, p.tA ? 1 : K, p.tA ? M : 1);
  const bh = half(b, Kp, K, N, Np, p.tB ? 1 : N, p.tB ? K : 1);
  tileF16.run({
    constants: { bias: !!p.bias, act: p.act },
    buffers: { a: ah, b: bh, c: out, bias: p.bias },
    uniforms: { M, N, K4: Kp / 4, N4: Np / 4 },
    workgroups: [Math.ceil(Np / 4 / 8), Math.ceil(M / 4 / 8)],
  });
  ah.dispose();
  bh.dispose();
}
