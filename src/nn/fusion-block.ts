import { forwardWindow, geometry, type WindowDispatch } from '../kernels/conv-args.js';
import { depthwiseProject, dwProjectPlan } from '../kernels/dw-project.js';
import { expandDepthwise, expandDwPlan } from '../kernels/expand-dw.js';
import type { FoldedConv } from '../kernels/fold.js';
import { blockWeights, invertedResidualBlock } from '../kernels/inverted-residual.js';
import { fusedInvertedResidualOn, setTuning } from '../kernels/tuning.js';
import { maxBindingBytes } from '../kernels/util.js';
import { zeros } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import { needsGradient } from '../tensor/record.js';
import type { Tensor } from '../tensor/tensor.js';
import { type FoldCache, type FusedChain, foldChain, graphFusionOn } from './fusion.js';
import type { CallArgs, SymbolicTensor } from './layer.js';
import { Conv2D, DepthwiseConv2D } from './layers/conv.js';
import { Add } from './layers/shape.js';

/**
 * A stride-1 MobileNetV2 inverted-residual block found among the fused chains of a functional
 * graph: expand 1x1 (-> ReLU6), depthwise 3x3 'same' (-> ReLU6), project 1x1 (linear), and the
 * optional Add of the block's input. With the `fusedInvertedResidual` tuning switch on, and in
 * inference (batch norms on their moving statistics, no tape watching), it runs as one
 * `invertedResidualBlock` dispatch; otherwise as its three chains.
 */
export interface InvertedResidualPattern {
  /** The expand, depthwise and project chains. */
  chains: [FusedChain, FusedChain, FusedChain];
  /** The residual Add node, if any. */
  add?: SymbolicTensor;
  /** Every node the block replaces, in graph order; the last one's value is the block's output. */
  nodes: SymbolicTensor[];
}

const is1x1 = (c: FusedChain) =>
  c.conv instanceof Conv2D &&
  !c.pad &&
  c.conv.kernelSize.every((k) => k === 1) &&
  c.conv.strides.every((s) => s === 1);

/**
 * The single consumer of a node that is only an intermediate value (`only`), and the chain that
 * alone reads a chain's output (`next`).
 */
function successors(
  nodes: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
  chains: ReadonlyMap<SymbolicTensor, FusedChain>,
) {
  const consumers = new Map<SymbolicTensor, SymbolicTensor[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const only = (n: SymbolicTensor) => {
    const c = consumers.get(n);
    return c?.length === 1 && !outputs.includes(n) ? c[0] : undefined;
  };
  const next = (c: FusedChain) => {
    const n = only(c.nodes[c.nodes.length - 1]);
    return n && chains.get(n);
  };
  return { only, next };
}

/** Blocks keyed by their first node (the expand conv's), from `findChains`'s chains. */
export function findInvertedResiduals(
  nodes: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
  chains: ReadonlyMap<SymbolicTensor, FusedChain>,
): Map<SymbolicTensor, InvertedResidualPattern> {
  const { only, next } = successors(nodes, outputs, chains);
  const blocks = new Map<SymbolicTensor, InvertedResidualPattern>();
  for (const [first, expand] of chains) {
    if (!is1x1(expand) || expand.activation !== 'relu6') continue;
    const dw = next(expand);
    const d = dw?.conv;
    if (
      !dw ||
      dw.pad ||
      dw.activation !== 'relu6' ||
      !(d instanceof DepthwiseConv2D) ||
      d.depthMultiplier !== 1 ||
      d.padding !== 'same' ||
      d.kernelSize.some((k) => k !== 3) ||
      d.strides.some((s) => s !== 1)
    )
      continue;
    const project = next(dw);
    if (!project || !is1x1(project) || project.activation !== 'linear') continue;
    const block: InvertedResidualPattern = {
      chains: [expand, dw, project],
      nodes: [...expand.nodes, ...dw.nodes, ...project.nodes],
    };
    const add = only(project.nodes[project.nodes.length - 1]);
    if (add?.layer instanceof Add && add.inputs.length === 2 && add.inputs.includes(first.inputs[0])) {
      block.add = add;
      block.nodes.push(add);
    }
    blocks.set(first, block);
  }
  return blocks;
}

/** When functional models run MobileNetV2-style inverted-residual blocks as one fused dispatch. */
export type FusedBlocksMode = 'auto' | 'on' | 'off';

/**
 * Chooses whether functional models run each stride-1 inverted-residual block (expand 1x1 -> ReLU6,
 * depthwise 3x3 -> ReLU6, project 1x1 [+ input]) in inference as one `invertedResidualBlock`
 * dispatch that keeps the expanded activation in workgroup memory. 'auto' (the default) is off for
 * now: on lavapipe the fused kernel measured 4-12x slower than the three convolutions (bench/README.md),
 * and no GPU has measured it yet; 'on' is for trying it on a GPU. Training, gradient tapes and batch
 * norms on batch statistics always run the blocks unfused. Outputs agree with the unfused path
 * within float32 rounding.
 */
export function setFusedBlocks(mode: FusedBlocksMode): void {
  if (mode !== 'auto' && mode !== 'on' && mode !== 'off')
    throw new ArgumentError(
      `setFusedBlocks: mode must be 'auto', 'on' or 'off', got ${JSON.stringify(mode)}`,
    );
  setTuning({ fusedInvertedResidual: mode });
}

/**
 * Runs `block` on `x` as one fused dispatch, or returns undefined when it must run unfused: the
 * switch or graph fusion off, a batch norm on batch statistics, or a tape needing gradients.
 */
export function runInvertedResidual(
  block: InvertedResidualPattern,
  x: Tensor,
  args: CallArgs,
  folds?: FoldCache,
): Tensor | undefined {
  if (!fusedInvertedResidualOn() || !graphFusionOn() || x.rank !== 4) return undefined;
  const w = foldedWeights(block.chains, x, args, folds);
  if (!w) return undefined;
  const { folded, own } = w;
  const views = blockWeights(folded[0], folded[1], folded[2]);
  const y = invertedResidualBlock(x, views, { residual: block.add !== undefined });
  for (const t of [views.expandFilter, views.depthwiseFilter, views.projectFilter, ...own]) t.dispose();
  return y;
}

/** Whether a batch norm of `chains` normalises by batch statistics in this call (then nothing fuses). */
function usesBatchStatistics(chains: readonly FusedChain[], args: CallArgs): boolean {
  return chains.some((c) => c.bn && args.training && c.bn.trainable);
}

/**
 * The chains' filters and biases with their inference batch norms folded in (missing biases as
 * zeros), and the tensors the caller must dispose; undefined when they must run unfused: a batch
 * norm on batch statistics, a tape needing gradients, or a fold that did not fit a binding.
 */
function foldedWeights(
  chains: readonly FusedChain[],
  x: Tensor,
  args: CallArgs,
  folds?: FoldCache,
): { folded: FoldedConv[]; own: Tensor[] } | undefined {
  if (usesBatchStatistics(chains, args)) return undefined;
  const weights = chains.flatMap((c) => [c.conv.kernel, c.conv.bias, c.bn?.gamma, c.bn?.beta]);
  if (needsGradient(x, ...weights)) return undefined;
  const own: Tensor[] = [];
  const folded = chains.map((c) => {
    const f = foldChain(c, folds);
    if (f && !folds) own.push(f.filter, f.bias);
    if (f) return f;
    const bias =
      c.conv.bias ??
      zeros([c.conv.kernel!.shape[3] * (c.conv instanceof Conv2D ? 1 : c.conv.kernel!.shape[2])]);
    if (!c.conv.bias) own.push(bias);
    return { filter: c.conv.kernel!, bias };
  });
  // The folds may not fit a binding (undefined) and fall back to the raw weights only without a
  // batch norm; chains whose batch norm could not be folded run unfused.
  if (chains.some((c, i) => c.bn && folded[i].filter === c.conv.kernel)) {
    for (const t of own) t.dispose();
    return undefined;
  }
  return { folded, own };
}

/**
 * Two chains where the second alone reads the first's output, run as one dispatch on CPU adapters
 * with a fixed subgroup size, in inference: a depthwise chain (multiplier 1) and the 1x1 stride-1
 * chain after it, as in MobileNetV2's first block (`dw_project_ws`, src/kernels/dw-project.ts: the
 * depthwise output is never written), or a 1x1 stride-1 chain and the depthwise chain after it, as
 * in its second block (`expand_dw_ws`, src/kernels/expand-dw.ts: the expansion is never written),
 * each where its kernel's plan accepts the shapes.
 */
export interface ChainPair {
  /** The first and second chains. */
  chains: [FusedChain, FusedChain];
  /** Every node the pair replaces, in graph order; the last one's value is the pair's output. */
  nodes: SymbolicTensor[];
}

const isDepthwise = (c: FusedChain) => c.conv instanceof DepthwiseConv2D && c.conv.depthMultiplier === 1;

/** Pairs keyed by their first node, from `findChains`'s chains, whose two chains `accept`. */
function findPairs(
  nodes: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
  chains: ReadonlyMap<SymbolicTensor, FusedChain>,
  accept: (first: FusedChain, second: FusedChain) => boolean,
): Map<SymbolicTensor, ChainPair> {
  const { next } = successors(nodes, outputs, chains);
  const pairs = new Map<SymbolicTensor, ChainPair>();
  for (const [first, a] of chains) {
    const b = next(a);
    if (b && accept(a, b)) pairs.set(first, { chains: [a, b], nodes: [...a.nodes, ...b.nodes] });
  }
  return pairs;
}

/** Depthwise -> 1x1 pairs (see ChainPair). */
export function findDwProjects(
  nodes: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
  chains: ReadonlyMap<SymbolicTensor, FusedChain>,
): Map<SymbolicTensor, ChainPair> {
  return findPairs(nodes, outputs, chains, (dw, project) => isDepthwise(dw) && is1x1(project));
}

/** 1x1 -> depthwise pairs (see ChainPair). */
export function findExpandDws(
  nodes: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
  chains: ReadonlyMap<SymbolicTensor, FusedChain>,
): Map<SymbolicTensor, ChainPair> {
  return findPairs(nodes, outputs, chains, (expand, dw) => is1x1(expand) && isDepthwise(dw));
}

/** The depthwise chain's window over an input of `shape` (its padding layer's, else its own padding). */
function dwWindow(dw: FusedChain, shape: readonly number[], op: string): WindowDispatch {
  const k = dw.conv.kernel!;
  const padding = dw.pad ? dw.pad.padding : dw.conv.padding;
  return forwardWindow(geometry(op, shape, k.shape[0], k.shape[1], dw.conv.strides, padding));
}

/**
 * What both pair runners share once their plan accepted the shapes: x and the `outElems` output
 * must fit a binding, then `launch` gets the folded weights (undefined: run the chains).
 */
function runPair(
  pair: ChainPair,
  x: Tensor,
  args: CallArgs,
  folds: FoldCache | undefined,
  outElems: number,
  launch: (first: FoldedConv, second: FoldedConv) => Tensor,
): Tensor | undefined {
  const limit = maxBindingBytes();
  if (x.size * 4 > limit || outElems * 4 > limit) return undefined;
  const w = foldedWeights(pair.chains, x, args, folds);
  if (!w) return undefined;
  const y = launch(w.folded[0], w.folded[1]);
  for (const t of w.own) t.dispose();
  return y;
}

/** A depthwise -> 1x1 pair's window and kernel plan on an input of `shape`, if its kernel takes it. */
function dwProjectShapes(pair: ChainPair, shape: readonly number[]) {
  const [dw, project] = pair.chains;
  const win = dwWindow(dw, shape, 'depthwiseProject');
  const plan = dwProjectPlan(win, shape[3], project.conv.kernel!.shape[3]);
  return plan && { win, plan };
}

/** A 1x1 -> depthwise pair's window and kernel plan on an input of `shape`, if its kernel takes it. */
function expandDwShapes(pair: ChainPair, shape: readonly number[]) {
  const [expand, dw] = pair.chains;
  const ce = expand.conv.kernel!.shape[3];
  const win = dwWindow(dw, [shape[0], shape[1], shape[2], ce], 'expandDepthwise');
  const plan = expandDwPlan(win, shape[3], ce);
  return plan && { win, plan };
}

/**
 * The nodes whose values the pairs will never write in a call on `given` with `args` (all of a
 * fused pair's nodes but its last): the pair's kernel takes its shapes, no batch norm in it uses
 * batch statistics, and no gradient can flow into it (neither the inputs nor any weight of the
 * nodes up to the pair depends on what a tape differentiates: an over-approximation, so a pair
 * counted here does fuse unless a binding limit stops it, which the caller's batch split avoids).
 * Lets `Functional` size its micro-batches by the activations that exist.
 */
export function fusedAwayNodes(
  nodes: readonly SymbolicTensor[],
  fusable: {
    expands: ReadonlyMap<SymbolicTensor, ChainPair>;
    projects: ReadonlyMap<SymbolicTensor, ChainPair>;
  },
  given: readonly Tensor[],
  args: CallArgs,
): Set<SymbolicTensor> {
  const away = new Set<SymbolicTensor>();
  if (!graphFusionOn() || given.some((t) => t.dtype !== 'float32')) return away;
  let gradient = needsGradient(...given);
  const mayNeedGradient = new Set<SymbolicTensor>();
  for (const n of nodes) {
    gradient ||= needsGradient(...n.layer.weights);
    if (gradient) mayNeedGradient.add(n);
  }
  // In graph order, as Functional runs them: an expand pair that fuses takes its depthwise chain
  // from any depthwise -> 1x1 pair starting there.
  const taken = new Set<SymbolicTensor>();
  const fuses = (
    pair: ChainPair | undefined,
    shapes: (p: ChainPair, s: number[]) => object | undefined,
  ): pair is ChainPair => {
    if (!pair) return false;
    const shape = pair.nodes[0].inputs[0]?.shape;
    if (shape?.length !== 4 || shape.slice(1).some((d) => d === null)) return false;
    if (mayNeedGradient.has(pair.nodes[pair.nodes.length - 1])) return false;
    if (usesBatchStatistics(pair.chains, args)) return false;
    return !!shapes(pair, [1, ...(shape.slice(1) as number[])]);
  };
  for (const n of nodes) {
    if (taken.has(n)) continue;
    const e = fusable.expands.get(n);
    const p = fusable.projects.get(n);
    const pair = fuses(e, expandDwShapes) ? e : fuses(p, dwProjectShapes) ? p : undefined;
    if (!pair) continue;
    for (const c of pair.nodes) taken.add(c);
    for (const c of pair.nodes.slice(0, -1)) away.add(c);
  }
  return away;
}

/**
 * Runs a depthwise -> 1x1 pair on `x` as one dispatch, or returns undefined when it runs as its two
 * chains: graph fusion off, shapes or adapter outside `dwProjectPlan`, a batch norm on batch
 * statistics, or a tape needing gradients.
 */
export function runDwProject(
  pair: ChainPair,
  x: Tensor,
  args: CallArgs,
  folds?: FoldCache,
): Tensor | undefined {
  if (!graphFusionOn() || x.rank !== 4 || x.dtype !== 'float32') return undefined;
  const [dw, project] = pair.chains;
  const [ce, co] = [x.shape[3], project.conv.kernel!.shape[3]];
  const found = dwProjectShapes(pair, x.shape);
  if (!found) return undefined;
  const { win, plan } = found;
  return runPair(pair, x, args, folds, win.n * win.oh * win.ow * co, (fd, fp) =>
    depthwiseProject(
      {
        ...win,
        x,
        fd: fd.filter,
        bd: fd.bias,
        dwAct: dw.activation,
        fp: fp.filter,
        bp: fp.bias,
        act: project.activation,
        ce,
        co,
      },
      plan,
    ),
  );
}

/**
 * Runs a 1x1 -> depthwise pair on `x` as one dispatch, or returns undefined when it runs as its two
 * chains: graph fusion off, shapes or adapter outside `expandDwPlan`, a batch norm on batch
 * statistics, or a tape needing gradients.
 */
export function runExpandDw(
  pair: ChainPair,
  x: Tensor,
  args: CallArgs,
  folds?: FoldCache,
): Tensor | undefined {
  if (!graphFusionOn() || x.rank !== 4 || x.dtype !== 'float32') return undefined;
  const [expand, dw] = pair.chains;
  const cin = x.shape[3];
  const ce = expand.conv.kernel!.shape[3];
  const found = expandDwShapes(pair, x.shape);
  if (!found) return undefined;
  const { win, plan } = found;
  return runPair(pair, x, args, folds, win.n * win.oh * win.ow * ce, (fe, fd) =>
    expandDepthwise(
      {
        ...win,
        x,
        fe: fe.filter,
        be: fe.bias,
        eAct: expand.activation,
        fd: fd.filter,
        bd: fd.bias,
        dAct: dw.activation,
        cin,
        ce,
      },
      plan,
    ),
  );
}
