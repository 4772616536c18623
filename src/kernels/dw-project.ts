import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, act4 } from './activation.js';
import type { WindowDispatch } from './conv-args.js';
import { defineKernel } from './program.js';
import { STRIP_UNIFORMS, stripGrid, stripHead, stripLoop } from './strip-ws.js';
import { lavapipeWeightStationary, subgroupLanes } from './tuning.js';
import { residentWeights } from './ws-codegen.js';

/**
 * A narrow depthwise conv and the 1x1 projection after it in one dispatch, for inference on CPU
 * adapters with a fixed subgroup size (lavapipe): `act(project(dwAct(depthwise(x) + dwBias)) +
 * bias)`, as in MobileNetV2's first block (depthwise 3x3 over 32 channels, then 32 -> 16). The
 * depthwise output is never written: a subgroup owns a strip of output pixels and every channel
 * quad of it (one quad per lane, so at most 4 x lanes channels), walks the strip down the image
 * keeping the window rows that consecutive output rows share (as the depthwise strip kernel does),
 * and then, per pixel, broadcasts the lane's depthwise quad to every lane, which accumulates its
 * output quads against projection weights it keeps resident (as the pointwise weight-stationary
 * kernel does). Stand-alone on lavapipe, [32, 96, 96, 32] 3x3 -> 16: 21.1-21.7 ms against
 * 43.7-48.3 ms for the two kernels; with more channels per lane (2-5 quads: MobileNetV2's later
 * blocks) the lane's window outgrew its registers and the fused kernel was no faster (see
 * bench/README.md), hence the one-quad limit.
 */

/** The strip kernel's constants. */
export type DwProjectKernel = {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  /** Output pixels per strip row. */
  px: number;
  /** Subgroup lanes. */
  sg: number;
  /** Depthwise channels (the projection's reduction, unrolled). */
  ce: number;
  /** Output quads per lane. */
  c2: number;
  dwBias: boolean;
  bias: boolean;
  dwAct: Activation;
  act: Activation;
  /** Each subgroup walks `p.imgs` images (the grid's `imgs` > 1); absent: one. */
  imgs?: boolean;
};

const XYZW = 'xyzw';

export const dwProjectKernel = defineKernel({
  name: 'dw_project_ws',
  bindings: (k: DwProjectKernel) => ({
    x: 'read vec4f',
    fd: 'read vec4f',
    bd: k.dwBias ? 'read vec4f' : null,
    fp: 'read vec4f',
    bp: k.bias ? 'read vec4f' : null,
    y: 'rw vec4f',
  }),
  uniforms: {
    ...STRIP_UNIFORMS,
    CE4: 'u32',
    CO4: 'u32',
    KE: 'u32',
  },
  workgroupSize: (k) => k.sg,
  builtins: ['wid', 'sgi'],
  enables: ['subgroups'],
  body: dwProjectBody,
});

function dwProjectBody(k: DwProjectKernel): string {
  const { kh, kw, sh, sw, px, sg: L, ce, c2: C2 } = k;
  const cols = (px - 1) * sw + kw;
  const fresh = Math.min(sh, kh);
  const carry = kh - fresh;
  let pre = `${stripHead(px, sw)}  let q = min(sgi, p.CE4 - 1u);
  let db = ${k.dwBias ? 'bd[q]' : 'vec4f(0.0)'};
`;
  for (let t = 0; t < kh * kw; t++) pre += `  let f${t} = fd[${t}u * p.CE4 + q];\n`;
  for (let j = 0; j < C2; j++)
    pre += `  let o${j} = min(sgi + ${j * L}u, p.CO4 - 1u);
  let ook${j} = sgi + ${j * L}u < p.CO4;
  let pb${j} = ${k.bias ? `bp[o${j}]` : 'vec4f(0.0)'};
`;
  pre += residentWeights(ce, C2, 'p.KE', (j) => `fp[i * p.CO4 + o${j}]`);
  for (let ky = 0; ky < kh; ky++) for (let c = 0; c < cols; c++) pre += `  var v${ky}_${c} = vec4f(0.0);\n`;
  const loadRow = (ky: number, oy: string, ind: string) => {
    let t = `${ind}{
${ind}  let iy = i32(${oy} * ${sh}u + ${ky}u) - p.padT;
${ind}  let rowOk = iy >= 0 && iy < i32(p.H);
${ind}  let rowBase = (b * p.H + u32(max(iy, 0))) * p.W;
`;
    for (let c = 0; c < cols; c++)
      t += `${ind}  let ok${c} = rowOk && ix0 + ${c} >= 0 && ix0 + ${c} < i32(p.W);
${ind}  v${ky}_${c} = select(vec4f(0.0), x[select(0u, (rowBase + u32(ix0 + ${c})) * p.CE4 + q, ok${c})], ok${c});
`;
    return `${t}${ind}}\n`;
  };
  let carryRows = '';
  for (let ky = 0; ky < carry; ky++) carryRows += loadRow(ky, 'oy0', '  ');
  let body = '';
  for (let ky = carry; ky < kh; ky++) body += loadRow(ky, 'oy', '    ');
  for (let p = 0; p < px; p++) {
    body += `    if (ox0 + ${p}u < p.OW) {\n      var d = db;\n`;
    for (let ky = 0; ky < kh; ky++)
      for (let kx = 0; kx < kw; kx++) body += `      d = fma(v${ky}_${p * sw + kx}, f${ky * kw + kx}, d);\n`;
    body += `      let e = ${act4(k.dwAct, 'd')};\n`;
    for (let j = 0; j < C2; j++) body += `      var a${j} = pb${j};\n`;
    for (let c = 0; c < ce; c++) {
      body += `      let s${c} = vec4f(subgroupBroadcast(e.${XYZW[c & 3]}, ${c >> 2}u));\n`;
      for (let j = 0; j < C2; j++) body += `      a${j} = fma(s${c}, w${c}_${j}, a${j});\n`;
    }
    body += `      let orow = ((b * p.OH + oy) * p.OW + ox0 + ${p}u) * p.CO4;\n`;
    for (let j = 0; j < C2; j++)
      body += `      if (ook${j}) { y[orow + o${j}] = ${act4(k.act, `a${j}`)}; }\n`;
    body += '    }\n';
  }
  for (let ky = 0; ky < carry; ky++)
    for (let c = 0; c < cols; c++) body += `    v${ky}_${c} = v${ky + fresh}_${c};\n`;
  return `${pre}${stripLoop(!!k.imgs, carryRows, body)}`;
}

/** What `depthwiseProject` computes: the depthwise step's window and both steps' weights. */
export interface DwProjectCall extends WindowDispatch {
  x: Tensor;
  /** Depthwise filter [kh, kw, CE, 1]. */
  fd: Tensor;
  bd?: Tensor;
  dwAct: Activation;
  /** Projection filter [1, 1, CE, CO] (or [CE, CO]). */
  fp: Tensor;
  bp?: Tensor;
  act: Activation;
  ce: number;
  co: number;
}

/**
 * The subgroup lanes and output quads per lane when the fused kernel applies to these shapes, or
 * undefined: the `convWeightStationary` switch ('auto': lavapipe, as for the windowed
 * weight-stationary conv), a fixed subgroup size, CE % 4 == 0 with one quad per lane at most,
 * CO % 4 == 0 with at most 4 quads per lane, strides up to 2, windows up to 5x5, no dilation.
 */
export function dwProjectPlan(
  a: WindowDispatch,
  ce: number,
  co: number,
): { sg: number; c2: number } | undefined {
  if (!lavapipeWeightStationary()) return undefined;
  const sg = subgroupLanes('conv');
  if (sg === 0 || ce % 4 !== 0 || co % 4 !== 0 || ce > 4 * sg) return undefined;
  const c2 = Math.ceil(co / 4 / sg);
  if (c2 > 4 || a.kh > 5 || a.kw > 5 || a.sh > 2 || a.sw > 2 || a.dh !== 1 || a.dw !== 1) return undefined;
  return { sg, c2 };
}

/**
 * Runs the fused kernel (the caller checked `dwProjectPlan`): x [N, H, W, CE] -> [N, OH, OW, CO].
 * Not recorded on a gradient tape (graph fusion calls it only when nothing needs gradients).
 */
export function depthwiseProject(a: DwProjectCall, plan: { sg: number; c2: number }): Tensor {
  const y = emptyTensor([a.n, a.oh, a.ow, a.co], 'float32');
  if (y.size === 0) return y;
  // Two pixels per strip row at column stride 1 (as the depthwise strip kernel measured best), one
  // otherwise.
  const px = a.sw === 1 ? Math.min(2, a.ow) : 1;
  const grid = stripGrid(a, px, 'depthwiseProject');
  dwProjectKernel.run({
    constants: {
      kh: a.kh,
      kw: a.kw,
      sh: a.sh,
      sw: a.sw,
      px,
      sg: plan.sg,
      ce: a.ce,
      c2: plan.c2,
      dwBias: !!a.bd,
      bias: !!a.bp,
      dwAct: a.dwAct,
      act: a.act,
      ...(grid.imgs > 1 ? { imgs: true } : {}),
    },
    buffers: { x: a.x, fd: a.fd, bd: a.bd, fp: a.fp, bp: a.bp, y },
    uniforms: { ...grid.uniforms, CE4: a.ce / 4, CO4: a.co / 4, KE: a.ce },
    workgroups: grid.workgroups,
  });
  return y;
}
