import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, act4 } from './activation.js';
import type { WindowDispatch } from './conv-args.js';
import { defineKernel } from './program.js';
import { STRIP_UNIFORMS, stripGrid, stripHead, stripLoop } from './strip-ws.js';
import { lavapipeWeightStationary, subgroupLanes } from './tuning.js';
import { residentWeights } from './ws-codegen.js';

/**
 * A narrow 1x1 expansion and the depthwise conv after it in one dispatch, for inference on CPU
 * adapters with a fixed subgroup size (lavapipe): `dwAct(depthwise(expandAct(x · We + be)) + bd)`,
 * as in MobileNetV2's second block (16 -> 96 channels at 96x96, then a 3x3 stride-2 depthwise).
 * The expanded activation, the largest tensor of such networks, is never written: a subgroup owns
 * one output column strip and every expanded channel quad of it (C quads per lane), walks the
 * strip down the image, and for each input pixel of the window rows it needs computes the
 * expansion itself (inputs loaded spread over the lanes and broadcast against resident expansion
 * weights, as the pointwise weight-stationary kernel does), keeping the window rows that the next
 * output row shares. An input pixel is expanded once per output column whose window covers it (3x
 * at stride 1, 1.5x at stride 2), which is cheap while Cin is small. Stand-alone on lavapipe (b32,
 * same outputs bit for bit): 16 -> 96 at 96x96 then 3x3 stride 2, 25.7-29.0 ms against 50.3-58.8
 * ms for the two kernels; stride 1 66-73 vs 114-125 ms; 24 -> 96 stride 2 at 48x48 8.2-10.4 vs
 * 11.8-18.5 ms; 16 -> 64 and 8 -> 48 1.7-1.9x. With more quads per lane (24 -> 144: 5; 32 -> 192:
 * 6) it was no faster or slower, hence at most 3 quads per lane and Cin <= 24.
 */

/** The kernel's constants. */
export type ExpandDwKernel = {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  sg: number;
  /** Input channels (the expansion's reduction, unrolled). */
  cin: number;
  /** Expanded channel quads per lane. */
  c: number;
  eBias: boolean;
  dBias: boolean;
  eAct: Activation;
  dAct: Activation;
  /** Each subgroup walks `p.imgs` images (the grid's `imgs` > 1); absent: one. */
  imgs?: boolean;
};

const XYZW = 'xyzw';

export const expandDwKernel = defineKernel({
  name: 'expand_dw_ws',
  bindings: (k: ExpandDwKernel) => ({
    x: 'read vec4f',
    fe: 'read vec4f',
    be: k.eBias ? 'read vec4f' : null,
    fd: 'read vec4f',
    bd: k.dBias ? 'read vec4f' : null,
    y: 'rw vec4f',
  }),
  uniforms: {
    ...STRIP_UNIFORMS,
    CIN4: 'u32',
    CE4: 'u32',
    KE: 'u32',
  },
  workgroupSize: (k) => k.sg,
  builtins: ['wid', 'sgi'],
  enables: ['subgroups'],
  body: expandDwBody,
});

function expandDwBody(k: ExpandDwKernel): string {
  const { kh, kw, sh, sw, sg: L, cin, c: C } = k;
  const fresh = Math.min(sh, kh);
  const carry = kh - fresh;
  const G = Math.ceil(cin / 4 / L);
  let pre = stripHead(1, sw);
  for (let j = 0; j < C; j++) {
    pre += `  let q${j} = min(sgi + ${j * L}u, p.CE4 - 1u);
  let ok${j} = sgi + ${j * L}u < p.CE4;
  let be${j} = ${k.eBias ? `be[q${j}]` : 'vec4f(0.0)'};
  let bd${j} = ${k.dBias ? `bd[q${j}]` : 'vec4f(0.0)'};
`;
    for (let t = 0; t < kh * kw; t++) pre += `  let f${t}_${j} = fd[${t}u * p.CE4 + q${j}];\n`;
  }
  pre += residentWeights(cin, C, 'p.KE', (j) => `fe[i * p.CE4 + q${j}]`);
  for (let r = 0; r < kh; r++)
    for (let c = 0; c < kw; c++) for (let j = 0; j < C; j++) pre += `  var e${r}_${c}_${j} = vec4f(0.0);\n`;
  // Window row r of output row `oy`: the expansion of its kw input pixels (zero outside the input:
  // the depthwise conv pads the expanded activation).
  const expandRow = (r: number, oy: string, ind: string) => {
    let t = `${ind}{
${ind}  let iy = i32(${oy} * ${sh}u + ${r}u) - p.padT;
${ind}  let rowOk = iy >= 0 && iy < i32(p.H);
${ind}  let rowBase = (b * p.H + u32(max(iy, 0))) * p.W;
`;
    for (let c = 0; c < kw; c++) {
      t += `${ind}  {
${ind}    let inb = rowOk && ix0 + ${c} >= 0 && ix0 + ${c} < i32(p.W);
${ind}    let pix = (rowBase + u32(max(ix0 + ${c}, 0))) * p.CIN4;
`;
      for (let g = 0; g < G; g++)
        t += `${ind}    let xq${g} = x[select(0u, pix + min(${g * L}u + sgi, p.CIN4 - 1u), inb)];\n`;
      for (let j = 0; j < C; j++) t += `${ind}    var a${j} = be${j};\n`;
      for (let i = 0; i < cin; i++) {
        const q = i >> 2;
        t += `${ind}    let s${i} = vec4f(subgroupBroadcast(xq${Math.floor(q / L)}.${XYZW[i & 3]}, ${q % L}u));\n`;
        for (let j = 0; j < C; j++) t += `${ind}    a${j} = fma(s${i}, w${i}_${j}, a${j});\n`;
      }
      for (let j = 0; j < C; j++)
        t += `${ind}    e${r}_${c}_${j} = select(vec4f(0.0), ${act4(k.eAct, `a${j}`)}, inb);\n`;
      t += `${ind}  }\n`;
    }
    return `${t}${ind}}\n`;
  };
  let carryRows = '';
  for (let r = 0; r < carry; r++) carryRows += expandRow(r, 'oy0', '  ');
  let body = '';
  for (let r = carry; r < kh; r++) body += expandRow(r, 'oy', '    ');
  body += '    let orow = ((b * p.OH + oy) * p.OW + ox0) * p.CE4;\n';
  for (let j = 0; j < C; j++) {
    body += `    var d${j} = bd${j};\n`;
    for (let r = 0; r < kh; r++)
      for (let c = 0; c < kw; c++) body += `    d${j} = fma(e${r}_${c}_${j}, f${r * kw + c}_${j}, d${j});\n`;
    body += `    if (ok${j}) { y[orow + q${j}] = ${act4(k.dAct, `d${j}`)}; }\n`;
  }
  for (let r = 0; r < carry; r++)
    for (let c = 0; c < kw; c++)
      for (let j = 0; j < C; j++) body += `    e${r}_${c}_${j} = e${r + fresh}_${c}_${j};\n`;
  return `${pre}${stripLoop(!!k.imgs, carryRows, body)}`;
}

/** What `expandDepthwise` computes: the depthwise step's window (over the expanded activation). */
export interface ExpandDwCall extends WindowDispatch {
  x: Tensor;
  /** Expansion filter [1, 1, Cin, CE] (or [Cin, CE]). */
  fe: Tensor;
  be?: Tensor;
  eAct: Activation;
  /** Depthwise filter [kh, kw, CE, 1]. */
  fd: Tensor;
  bd?: Tensor;
  dAct: Activation;
  cin: number;
  ce: number;
}

/**
 * The subgroup lanes and expanded quads per lane when the fused kernel applies, or undefined: the
 * `convWeightStationary` switch ('auto': lavapipe, as for the other fused kernels), a fixed
 * subgroup size, Cin % 4 == 0 with Cin <= 24, CE % 4 == 0 with at most 3 quads per lane, windows
 * up to 3x3, strides up to 2, no dilation.
 */
export function expandDwPlan(
  a: WindowDispatch,
  cin: number,
  ce: number,
): { sg: number; c: number } | undefined {
  if (!lavapipeWeightStationary()) return undefined;
  const sg = subgroupLanes('conv');
  if (sg === 0 || cin % 4 !== 0 || ce % 4 !== 0 || cin > 24) return undefined;
  const c = Math.ceil(ce / 4 / sg);
  if (c > 3 || a.kh > 3 || a.kw > 3 || a.sh > 2 || a.sw > 2 || a.dh !== 1 || a.dw !== 1) return undefined;
  return { sg, c };
}

/**
 * Runs the fused kernel (the caller checked `expandDwPlan`): x [N, H, W, Cin] -> [N, OH, OW, CE].
 * Not recorded on a gradient tape (graph fusion calls it only when nothing needs gradients).
 */
export function expandDepthwise(a: ExpandDwCall, plan: { sg: number; c: number }): Tensor {
  const y = emptyTensor([a.n, a.oh, a.ow, a.ce], 'float32');
  if (y.size === 0) return y;
  const grid = stripGrid(a, 1, 'expandDepthwise');
  expandDwKernel.run({
    constants: {
      kh: a.kh,
      kw: a.kw,
      sh: a.sh,
      sw: a.sw,
      sg: plan.sg,
      cin: a.cin,
      c: plan.c,
      eBias: !!a.be,
      dBias: !!a.bd,
      eAct: a.eAct,
      dAct: a.dAct,
      ...(grid.imgs > 1 ? { imgs: true } : {}),
    },
    buffers: { x: a.x, fe: a.fe, be: a.be, fd: a.fd, bd: a.bd, y },
    uniforms: { ...grid.uniforms, CIN4: a.cin / 4, CE4: a.ce / 4, KE: a.cin },
    workgroups: grid.workgroups,
  });
  return y;
}
