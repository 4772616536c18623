import { concat } from '../kernels/concat.js';
import { slice } from '../kernels/slice.js';
import { maxBindingBytes } from '../kernels/util.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { freeable, isRecording } from '../tensor/record.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { type FoldCache, type FusedChain, findChains, runChain } from './fusion.js';
import {
  type ChainPair,
  findDwProjects,
  findExpandDws,
  findInvertedResiduals,
  fusedAwayNodes,
  type InvertedResidualPattern,
  runDwProject,
  runExpandDw,
  runInvertedResidual,
} from './fusion-block.js';
import type { CallArgs, LayerArgs, SymShape } from './layer.js';
import { fmtSym, LAYER_KEYS, Layer, layerFromConfig, registerLayer, SymbolicTensor } from './layer.js';
import { type AffineAugmentation, applyAffineChain, findAffineChains } from './layers/affine-chain.js';
import { Model } from './model.js';
import { type SummaryRow, summaryLines } from './summary.js';

/** Options of `input()` (Keras `keras.Input`). */
export interface InputArgs {
  /** Shape without the batch dimension, e.g. [192, 192, 3]. */
  shape: number[];
  /** The input layer's name. */
  name?: string;
  /** A fixed batch size (rarely needed). */
  batchSize?: number;
}

/** The layer behind `input()`: passes its tensor through (shows as InputLayer in summaries). */
export class InputLayer extends Layer {
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  constructor(args: LayerArgs) {
    super(args);
    this.build(this.batchInputShape!);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return Array.isArray(inputs) ? inputs[0] : inputs;
  }
}
registerLayer('InputLayer', (c) => new InputLayer(c as LayerArgs));

/** A symbolic input of a functional model (Keras `keras.Input`). */
export function input(args: InputArgs): SymbolicTensor {
  if (!args || !Array.isArray(args.shape))
    throw new ArgumentError('input: expected { shape: number[] } (without the batch dimension)');
  checkOptions<InputArgs>(args, { shape: true, name: true, batchSize: true }, 'input');
  const layer = new InputLayer({ name: args.name, inputShape: args.shape, batchSize: args.batchSize });
  return new SymbolicTensor(layer.batchInputShape!, layer, []);
}

/** Options of `model()`: a functional model from its inputs to its output. */
export interface ModelArgs {
  /** The symbolic inputs made by `input()`. */
  inputs: SymbolicTensor | SymbolicTensor[];
  /** One output, or several (then `compile` takes a loss per output and `predict` returns a list). */
  outputs: SymbolicTensor | SymbolicTensor[];
  /** The model's name. */
  name?: string;
}

/**
 * [start, length] slices of a batch of `n` into as few near-equal parts as keep each at most
 * `maxLen` (at least 1): 64 at most 37 gives 2 x 32.
 */
export function evenSlices(n: number, maxLen: number): Array<[number, number]> {
  const fit = Math.max(1, maxLen);
  if (n <= fit) return [[0, n]];
  const size = Math.ceil(n / Math.ceil(n / fit));
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(size, n - s)]);
  return out;
}

/** Topological order of the graph's nodes (inputs first). */
function topoSort(outputs: SymbolicTensor[]): SymbolicTensor[] {
  const order: SymbolicTensor[] = [];
  const state = new Map<SymbolicTensor, 1 | 2>();
  const visit = (t: SymbolicTensor) => {
    const s = state.get(t);
    if (s === 2) return;
    if (s === 1) throw new ArgumentError('model: the layer graph has a cycle');
    state.set(t, 1);
    for (const i of t.inputs) visit(i);
    state.set(t, 2);
    order.push(t);
  };
  for (const o of outputs) visit(o);
  return order;
}

/**
 * A model defined by a graph of layers (Keras functional API): multi-branch graphs such as
 * residual blocks run in topological order.
 */
export class Functional extends Model {
  /** The graph's inputs. */
  readonly inputs: SymbolicTensor[];
  /** The graph's outputs. */
  readonly outputs: SymbolicTensor[];
  private readonly nodes: SymbolicTensor[];
  private readonly layerList: Layer[];
  private plan?: {
    chains: Map<SymbolicTensor, FusedChain>;
    blocks: Map<SymbolicTensor, InvertedResidualPattern>;
    pairs: Map<SymbolicTensor, ChainPair>;
    expands: Map<SymbolicTensor, ChainPair>;
    index: Map<SymbolicTensor, number>;
    affine: Map<SymbolicTensor, SymbolicTensor[]>;
    lastUse: Map<SymbolicTensor, number>;
  };

  constructor(args: ModelArgs) {
    if (args === null || typeof args !== 'object')
      throw new ArgumentError(`model: expected { inputs, outputs, name? }, got ${JSON.stringify(args)}`);
    checkOptions<ModelArgs>(args, { inputs: true, outputs: true, name: true }, 'model');
    super({ name: args.name });
    const inputs = Array.isArray(args.inputs) ? args.inputs : [args.inputs];
    const outputs = Array.isArray(args.outputs) ? args.outputs : [args.outputs];
    if (inputs.length === 0 || outputs.length === 0)
      throw new ArgumentError(
        `model: inputs and outputs must be non-empty, got ${inputs.length} input(s) and ${outputs.length} output(s)`,
      );
    for (const t of [...inputs, ...outputs]) {
      if (!(t instanceof SymbolicTensor))
        throw new ArgumentError('model: inputs and outputs must come from input() and layer.apply()');
    }
    for (const t of inputs) {
      if (!(t.layer instanceof InputLayer))
        throw new ArgumentError(`model: input '${t.layer.name}' is not an input() tensor`);
    }
    this.inputs = inputs;
    this.outputs = outputs;
    this.nodes = topoSort(outputs);
    for (const n of this.nodes) {
      if (n.layer instanceof InputLayer && !inputs.includes(n)) {
        throw new ArgumentError(
          `model: the outputs depend on input '${n.layer.name}', which is not in inputs`,
        );
      }
    }
    const seen = new Set<Layer>();
    this.layerList = [];
    for (const n of this.nodes) {
      if (!seen.has(n.layer)) {
        seen.add(n.layer);
        this.layerList.push(n.layer);
      }
    }
    const names = new Set<string>();
    for (const l of this.layerList) {
      if (names.has(l.name))
        throw new ArgumentError(`model: two layers are named '${l.name}'; layer names must be unique`);
      names.add(l.name);
    }
    this.inputShapeBuilt = inputs[0].shape;
    this.outputShapeBuilt = outputs[0].shape;
    this.built = true;
  }

  get layers(): Layer[] {
    return this.layerList;
  }

  /**
   * The symbolic output of the layer named `name` (Keras `model.get_layer(name).output`), e.g. to build
   * a feature extractor: `model({ inputs: base.inputs, outputs: base.layerOutput('block_1_project_BN') })`.
   */
  layerOutput(name: string): SymbolicTensor {
    const n = this.nodes.find((t) => t.layer.name === name);
    if (!n) throw new ArgumentError(`layerOutput: no layer named '${name}' in model '${this.name}'`);
    return n;
  }

  get inputShape(): SymShape {
    return this.inputs[0].shape;
  }

  get outputShape(): SymShape {
    return this.outputs[0].shape;
  }

  /** The names of the input layers, in order (keys of `{ name: tensor }` inputs). */
  override get inputNames(): string[] {
    return this.inputs.map((t) => t.layer.name);
  }

  /** The names of the layers making the outputs, in order (Keras `output_names`; log prefixes). */
  override get outputNames(): string[] {
    return this.outputs.map((t) => t.layer.name);
  }

  override build(inputShape: SymShape): void {
    const want = this.inputs[0].shape;
    if (
      inputShape.length !== want.length ||
      want.some((d, i) => i > 0 && d !== null && inputShape[i] !== null && d !== inputShape[i])
    ) {
      throw new ShapeError(
        `model '${this.name}' expects inputs of shape ${fmtSym(want)}, got ${fmtSym(inputShape)}`,
      );
    }
    this.built = true;
  }

  override computeOutputShape(_inputShape: SymShape): SymShape {
    this.requireSingleOutput('as a layer of another model');
    return this.outputs[0].shape;
  }

  override computeOutputShapeMulti(_shapes: SymShape[]): SymShape {
    return this.computeOutputShape(this.inputs[0].shape);
  }

  private requireSingleOutput(what: string): void {
    if (this.outputs.length !== 1)
      throw new ArgumentError(
        `model '${this.name}' has ${this.outputs.length} outputs (${this.outputNames.join(', ')}); it cannot be used ${what}: call applyOutputs() or predict()`,
      );
  }

  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    this.requireSingleOutput('through apply()');
    return this.callAll(inputs, args)[0];
  }

  /** Every output, in order, for concrete inputs (one tensor per input). */
  override applyOutputs(inputs: Tensor | Tensor[], args: CallArgs = {}): Tensor[] {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    list.forEach((t, i) => {
      if (!(t instanceof Tensor))
        throw new ArgumentError(
          `model '${this.name}': input ${i} must be a Tensor, got ${t === null ? 'null' : typeof t}`,
        );
      t.assertAlive(`model '${this.name}': input ${i}`);
    });
    return this.callAll(list, args);
  }

  private callAll(inputs: Tensor | Tensor[], args: CallArgs): Tensor[] {
    const given = Array.isArray(inputs) ? inputs : [inputs];
    if (given.length !== this.inputs.length) {
      throw new ArgumentError(
        `model '${this.name}' expects ${this.inputs.length} input(s), got ${given.length}`,
      );
    }
    this.inputs.forEach((sym, i) => {
      const t = given[i];
      const ok = t.rank === sym.rank && sym.shape.every((d, k) => k === 0 || d === null || d === t.shape[k]);
      if (!ok) {
        throw new ShapeError(
          `model '${this.name}': input '${sym.layer.name}' expects shape ${fmtSym(sym.shape)}, got ${fmtShape(t.shape)}`,
        );
      }
    });
    const parts = this.microBatches(given, args);
    if (parts.length === 1) return this.run(given, args);
    // Activations of the whole batch would not fit one storage binding: run the graph on slices of
    // the batch (each sample is independent in inference; BatchNormalization in training mode then
    // uses per-slice statistics). slice and concat are differentiable, so training works too.
    const recording = isRecording();
    // Without a tape, the batch norms folded into the convs are folded once for all the slices.
    const folds: FoldCache | undefined = recording ? undefined : new Map();
    let outs: Tensor[][];
    try {
      outs = parts.map(([start, len]) => {
        const go = () =>
          this.run(
            given.map((t) => slice(t, [start, ...t.shape.slice(1).map(() => 0)], [len, ...t.shape.slice(1)])),
            args,
            folds,
          );
        // Without a tape, each slice's intermediates can be freed at once.
        return recording ? go() : tidy(go);
      });
    } finally {
      for (const f of folds?.values() ?? []) for (const t of [f.filter, f.bias]) t.dispose();
    }
    const ys = this.outputs.map((_, k) =>
      concat(
        outs.map((o) => o[k]),
        0,
      ),
    );
    if (!recording) for (const o of outs.flat()) o.dispose();
    return ys;
  }

  /**
   * [start, length] slices of the batch of `given` so the largest activation of a slice fits one
   * binding; when the batch would be split, activations that fused pairs never write (block 1's
   * expansion of MobileNetV2) do not count.
   */
  private microBatches(given: Tensor[], args: CallArgs): Array<[number, number]> {
    const n = given[0].shape[0];
    const samplesPerBinding = (away?: ReadonlySet<SymbolicTensor>) => {
      let perSample = 0;
      for (const node of this.nodes) {
        const d = node.shape.slice(1);
        if (!away?.has(node) && d.every((v) => v !== null))
          perSample = Math.max(perSample, (d as number[]).reduce((a, b) => a * b, 1) * 4);
      }
      return Math.floor(maxBindingBytes() / Math.max(perSample, 1));
    };
    let fit = samplesPerBinding();
    if (fit < n) {
      const plan = this.graphPlan();
      fit = samplesPerBinding(
        fusedAwayNodes(this.nodes, { expands: plan.expands, projects: plan.pairs }, given, args),
      );
    }
    return evenSlices(n, fit);
  }

  /** The fusion and scheduling plan of the graph, found on first use. */
  private graphPlan(): NonNullable<Functional['plan']> {
    if (!this.plan) {
      const chains = findChains(this.nodes, this.outputs);
      this.plan = {
        chains,
        blocks: findInvertedResiduals(this.nodes, this.outputs, chains),
        pairs: findDwProjects(this.nodes, this.outputs, chains),
        expands: findExpandDws(this.nodes, this.outputs, chains),
        index: new Map(this.nodes.map((n, i) => [n, i])),
        affine: findAffineChains(this.nodes, this.outputs),
        lastUse: new Map(this.nodes.flatMap((n, i) => n.inputs.map((u) => [u, i] as const))),
      };
    }
    return this.plan;
  }

  private run(given: Tensor[], args: CallArgs, folds?: FoldCache): Tensor[] {
    const values = new Map<SymbolicTensor, Tensor>();
    this.inputs.forEach((sym, i) => {
      values.set(sym, given[i]);
    });
    const { chains, blocks, pairs, expands, index, affine, lastUse } = this.graphPlan();
    const keep = new Set<Tensor>(given);
    const skipped = new Set<SymbolicTensor>();
    this.nodes.forEach((n, i) => {
      if (values.has(n) || skipped.has(n)) return;
      const ins = n.inputs.map((u) => values.get(u)!);
      // A stride-1 inverted-residual block in one dispatch (opt-in), else a narrow expansion and its
      // depthwise conv, or a narrow depthwise conv and its projection, in one dispatch (CPU
      // adapters; all fusion-block.ts), else their chains.
      const irb = blocks.get(n);
      const expandDw = expands.get(n);
      const pair = pairs.get(n);
      let block: { nodes: SymbolicTensor[] } | undefined;
      let blockOut = irb && runInvertedResidual(irb, ins[0], args, folds);
      if (blockOut) block = irb;
      if (!blockOut && expandDw) {
        blockOut = runExpandDw(expandDw, ins[0], args, folds);
        if (blockOut) block = expandDw;
      }
      if (!blockOut && pair) {
        blockOut = runDwProject(pair, ins[0], args, folds);
        if (blockOut) block = pair;
      }
      const chain = blockOut ? undefined : chains.get(n);
      // The Add that alone reads the chain's output, when its other input already has a value.
      const residual = chain?.add && values.get(chain.add.other);
      const fused = chain && runChain(chain, ins[0], args, folds, residual);
      // Consecutive geometric augmentations: one resample in training (layers/affine-chain.ts).
      const geo = args.training ? affine.get(n) : undefined;
      // The nodes whose inputs may be freed now, and the index of the last of them.
      let done = [n];
      let last = i;
      if (blockOut && block) {
        for (const c of block.nodes) skipped.add(c);
        values.set(block.nodes[block.nodes.length - 1], blockOut);
        done = block.nodes;
        last = index.get(block.nodes[block.nodes.length - 1])!;
      } else if (geo) {
        for (const c of geo) skipped.add(c);
        const layers = geo.map((c) => c.layer as AffineAugmentation);
        values.set(geo[geo.length - 1], applyAffineChain(layers, ins[0], args));
      } else if (fused) {
        for (const c of chain.nodes) skipped.add(c);
        if (residual && chain.add) {
          skipped.add(chain.add.node);
          values.set(chain.add.node, fused);
          done = [n, chain.add.node];
          last = index.get(chain.add.node)!;
        } else values.set(chain.nodes[chain.nodes.length - 1], fused);
      } else {
        values.set(n, n.layer.apply(ins.length === 1 ? ins[0] : ins, args));
      }
      // Free inputs nothing later reads (unless a recording tape needs them for the backward pass),
      // so the peak memory is a few activations rather than all of them.
      for (const u of done.flatMap((d) => d.inputs)) {
        const t = values.get(u);
        if (!t || lastUse.get(u)! > last || this.outputs.includes(u) || keep.has(t) || t.kept || !freeable(t))
          continue;
        values.delete(u);
        if (![...values.values()].includes(t)) t.dispose();
      }
    });
    return this.outputs.map((o) => values.get(o)!);
  }

  override summary(printFn: (line: string) => void = console.log): string[] {
    const rows: SummaryRow[] = this.nodes.map((n) => ({
      layer: n.layer,
      connectedTo: n.inputs.map((i) => `${i.layer.name}[0][0]`).join(', '),
    }));
    const lines = summaryLines(this, rows);
    for (const l of lines) printFn(l);
    return lines;
  }

  override getConfig(): Record<string, unknown> {
    const index = new Map(this.nodes.map((n, i) => [n, i]));
    return {
      name: this.name,
      trainable: this.trainable,
      nodes: this.nodes.map((n) => ({
        className: n.layer.className,
        config: n.layer.getConfig(),
        inbound: n.inputs.map((i) => index.get(i)!),
      })),
      inputs: this.inputs.map((i) => index.get(i)!),
      outputs: this.outputs.map((o) => index.get(o)!),
    };
  }

  /** Recreates a functional model from its `getConfig()` (the layers' weights are new). */
  static fromConfig(config: Record<string, unknown>): Functional {
    const nodes = config.nodes as Array<{
      className: string;
      config: Record<string, unknown>;
      inbound: number[];
    }>;
    if (!Array.isArray(nodes))
      throw new ArgumentError('Functional.fromConfig: config.nodes must be an array');
    const built: SymbolicTensor[] = [];
    const layers = new Map<string, Layer>();
    for (const n of nodes) {
      const name = n.config.name as string;
      let layer = layers.get(name);
      if (!layer) {
        layer = layerFromConfig(n);
        layers.set(name, layer);
      }
      if (layer instanceof InputLayer) {
        built.push(new SymbolicTensor(layer.batchInputShape!, layer, []));
      } else {
        const ins = n.inbound.map((k) => built[k]);
        built.push(layer.apply(ins.length === 1 ? ins[0] : ins));
      }
    }
    // Configs written before multi-output models hold one `output` index.
    const outs = Array.isArray(config.outputs) ? (config.outputs as number[]) : [config.output as number];
    const model = new Functional({
      name: config.name as string,
      inputs: (config.inputs as number[]).map((k) => built[k]),
      outputs: outs.length === 1 ? built[outs[0]] : outs.map((k) => built[k]),
    });
    if (config.trainable === false) model.trainable = false;
    return model;
  }
}
registerLayer('Functional', (c) => Functional.fromConfig(c));

/** Builds a functional model from symbolic inputs and outputs (Keras `keras.Model(inputs, outputs)`). */
export function model(args: ModelArgs): Functional {
  return new Functional(args);
}
