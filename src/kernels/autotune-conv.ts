import type { Tensor } from '../tensor/tensor.js';
import { bucket, tunedChoice, tuneInput } from './autotune.js';
import { conv2d } from './conv.js';
import type { Padding, WindowDispatch } from './conv-args.js';
import { depthwiseConv2d } from './depthwise.js';
import type { TuneCandidates } from './tune-cache.js';
import { withTuning } from './tuning.js';

/**
 * The autotune look-ups of the convolution families, which their kernels call after the explicit
 * switch and before their defaults:
 *
 *   conv.ts:      tuning().convTile ?? convTileTuned(a, a.c, a.co, pointwise) ?? default (subgroup tiles)
 *   depthwise.ts: tuning().depthwiseStrip ?? depthwiseStripTuned(a, a.cs) ?? default (strip kernel)
 *
 * Each notes, with autotune on, a task that times the candidates on a forward op of the same
 * geometry (random input and filter; dilated convolutions are not timed).
 */

/** Explicit TensorFlow padding that gives the dispatch's output size and leading pads. */
function paddingOf(a: WindowDispatch): Padding {
  const b = Math.max(0, (a.oh - 1) * a.sh + a.kh - a.h - a.padT);
  const r = Math.max(0, (a.ow - 1) * a.sw + a.kw - a.w - a.padL);
  return [
    [a.padT, b],
    [a.padL, r],
  ];
}

/** The shape class of a conv: window, stride, output pixels, input and output channels (bucketed). */
export function convClass(a: WindowDispatch, c: number, co: number, pointwise: boolean): string {
  const win = pointwise ? 'pw' : `${a.kh}x${a.kw}s${a.sh}`;
  return `${win}:${bucket(a.n * a.oh * a.ow)}x${bucket(c)}x${bucket(co)}`;
}

export function convTileTuned(
  a: WindowDispatch,
  c: number,
  co: number,
  pointwise: boolean,
): TuneCandidates['conv'] | undefined {
  const dilated = a.dh > 1 || a.dw > 1;
  const task = () => ({
    inputs: () => [tuneInput([a.n, a.h, a.w, c], 1), tuneInput([a.kh, a.kw, c, co], 2)],
    run: (cand: TuneCandidates['conv'], [x, f]: Tensor[]) =>
      withTuning({ convTile: cand }, () => conv2d(x, f, [a.sh, a.sw], paddingOf(a))),
  });
  return tunedChoice('conv', convClass(a, c, co, pointwise), dilated ? undefined : task);
}

/** The shape class of a depthwise conv: window, stride, output pixels and channels (bucketed). */
export function depthwiseClass(a: WindowDispatch, cs: number): string {
  return `${a.kh}x${a.kw}s${a.sw}:${bucket(a.n * a.oh * a.ow)}x${bucket(cs)}`;
}

export function depthwiseStripTuned(a: WindowDispatch, cs: number): TuneCandidates['depthwise'] | undefined {
  return tunedChoice('depthwise', depthwiseClass(a, cs), () => ({
    inputs: () => [tuneInput([a.n, a.h, a.w, cs], 1), tuneInput([a.kh, a.kw, cs, 1], 2)],
    run: (cand, [x, f]: Tensor[]) =>
      withTuning({ depthwiseStrip: cand }, () => depthwiseConv2d(x, f, [a.sh, a.sw], paddingOf(a))),
  }));
}
