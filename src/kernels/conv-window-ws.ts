import { type Activation, act4 } from './activation.js';
import { CONV_HEAD, type ConvCall, convHead, type WindowDispatch } from './conv-args.js';
import { residentPlan } from './conv-pointwise.js';
import { defineKernel } from './program.js';
import { lavapipeWeightStationary } from './tuning.js';
import { broadcastFmas, fullConstant, laneQuads, quadStore, residentWeights } from './ws-codegen.js';

/**
 * The weight-stationary windowed convolution for CPU adapters with a fixed subgroup size: convs
 * whose whole reduction (kh x kw x Cin) is short, such as an image network's stem (3x3 over 3
 * channels). The pointwise kernel's scheme (conv-pointwise.ts) over the window: each lane keeps
 * its C output quads' weights for all kh x kw x Cin taps as values, and the subgroup walks a run
 * of output pixels; per pixel the window's values are loaded spread over the lanes (lane l loads
 * elements l, l + L, ... of the flattened window, zero outside the input) and broadcast. The
 * pixel's coordinates are stepped, not divided out (an integer division per lane is slow here).
 */
export type WindowWsKernel = {
  kh: number;
  kw: number;
  /** Input channels (any count: the window is read element by element). */
  cin: number;
  /** Output channel quads per lane. */
  c: number;
  sg: number;
  bias: boolean;
  act: Activation;
  /**
   * Every lane's quads are inside the output (Cout / 4 a multiple of c x sg): stores unguarded
   * (MobileNetV2's stem, 3x3x3 -> 32 at batch 64 on lavapipe: 23.9 -> 20.2 and 24.4 -> 21.6 ms).
   */
  full?: boolean;
};

export const windowWsKernel = defineKernel({
  name: 'conv2d_window_ws',
  bindings: (k: WindowWsKernel) => ({
    x: 'read f32',
    f: 'read vec4f',
    y: 'rw vec4f',
    bias: k.bias ? 'read vec4f' : null,
  }),
  uniforms: { ...CONV_HEAD, M: 'u32', TAPS: 'u32', PX: 'u32' },
  workgroupSize: (k) => k.sg,
  builtins: ['wid', 'sgi'],
  enables: ['subgroups'],
  body: windowBody,
});

function windowBody(k: WindowWsKernel): string {
  const { c: C, sg: L } = k;
  const K = k.kh * k.kw * k.cin;
  const G = Math.ceil(K / L);
  let pre = `  let co4 = p.CO / 4u;
  let qb = wid.x * ${C * L}u + sgi;
${laneQuads(C, L, 'qb', 'co4')}`;
  for (let j = 0; j < C; j++) pre += `  let b${j} = ${k.bias ? `bias[q${j}]` : 'vec4f(0.0)'};\n`;
  // The lane's window elements: tap offsets (dy, dx) and channel, fixed for the whole run.
  for (let g = 0; g < G; g++) {
    pre += `  let e${g} = min(${g * L}u + sgi, ${K - 1}u);
  let v${g} = ${g * L}u + sgi < ${K}u;
  let ci${g} = e${g} % ${k.cin}u;
  let dy${g} = i32(e${g} / ${k.cin * k.kw}u) - p.padT;
  let dx${g} = i32((e${g} / ${k.cin}u) % ${k.kw}u) - p.padL;
`;
  }
  pre += residentWeights(K, C, 'p.TAPS', (j) => `f[i * co4 + q${j}]`);
  let body = '';
  for (let j = 0; j < C; j++) body += `    var a${j} = b${j};\n`;
  for (let g = 0; g < G; g++) {
    body += `    let iy${g} = i32(oy * p.sh) + dy${g};
    let ix${g} = i32(ox * p.sw) + dx${g};
    let in${g} = v${g} && iy${g} >= 0 && iy${g} < i32(p.H) && ix${g} >= 0 && ix${g} < i32(p.W);
    let xv${g} = select(0.0, x[select(0u, ((rowB + u32(iy${g})) * p.W + u32(ix${g})) * p.C + ci${g}, in${g})], in${g});
`;
  }
  body += broadcastFmas(K, C, (e) => [`xv${Math.floor(e / L)}`, e % L]);
  for (let j = 0; j < C; j++)
    body += `    ${quadStore(j, k.full, `y[m * co4 + q${j}] = ${act4(k.act, `a${j}`)};`)}\n`;
  // The run's first pixel's coordinates are divided out once; then stepped.
  return `${pre}  let m0 = wid.y * p.PX;
  let m1 = min(m0 + p.PX, p.M);
  var ox = m0 % p.OW;
  var oy = (m0 / p.OW) % p.OH;
  var bimg = m0 / (p.OW * p.OH);
  for (var m = m0; m < m1; m++) {
    let rowB = bimg * p.H;
${body}    ox += 1u;
    if (ox == p.OW) {
      ox = 0u;
      oy += 1u;
      if (oy == p.OH) {
        oy = 0u;
        bimg += 1u;
      }
    }
  }
`;
}

/**
 * Quads per lane and pixels per run for a windowed conv, or undefined (the tile kernel): the
 * reduction kh x kw x Cin at most 144, Cout % 4 == 0, no input dilation; the switch
 * `convWeightStationary` as for the pointwise kernel.
 */
export function windowWsPlan(
  a: WindowDispatch,
  cin: number,
  co: number,
  sg: number,
): { c: number; px: number } | undefined {
  // 'auto': lavapipe only. Chromium's SwiftShader (also a software adapter) did not finish the
  // browser tests' convs with this kernel within their time limits.
  if (!lavapipeWeightStationary()) return undefined;
  const K = a.kh * a.kw * cin;
  if (sg === 0 || co % 4 !== 0 || K > 144 || a.dh > 1 || a.dw > 1) return undefined;
  const m = a.n * a.oh * a.ow;
  const plan = residentPlan(m, K, co, sg);
  return Math.ceil(m / plan.px) > 65535 ? undefined : plan;
}

/** Runs the windowed weight-stationary kernel: f is [kh, kw, cin, co] with co % 4 == 0. */
export function dispatchWindowWs(a: ConvCall, plan: { c: number; px: number }, sg: number): void {
  const m = a.n * a.oh * a.ow;
  windowWsKernel.run({
    constants: {
      kh: a.kh,
      kw: a.kw,
      cin: a.c,
      c: plan.c,
      sg,
      bias: !!a.bias,
      act: a.act,
      ...fullConstant(a.co / 4, plan.c, sg),
    },
    buffers: { x: a.x, f: a.f, y: a.y, bias: a.bias },
    uniforms: { ...convHead(a, a.c, a.co), M: m, TAPS: a.kh * a.kw * a.c, PX: plan.px },
    workgroups: [Math.ceil(a.co / 4 / (plan.c * sg)), Math.ceil(m / plan.px), 1],
  });
}
