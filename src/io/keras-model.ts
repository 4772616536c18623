/**
 * Keras model topologies <-> our model configs. Keras (2, 3) and TensorFlow.js describe a model as
 * `{ class_name: 'Sequential' | 'Functional' | 'Model', config }`; a functional config lists layers
 * with `inbound_nodes` that name the calls feeding each application of the layer (a shared layer has
 * several). We turn that into our Functional's list of nodes, in an order where every input comes
 * first, and back. Nested models convert recursively. Unsupported layers are collected, not thrown,
 * so one error can name them all.
 */
import { ModelFormatError } from './errors.js';
import {
  fromKerasLayer,
  type KerasLayerJson,
  type OurLayerJson,
  toKerasLayerConfig,
} from './keras-layers.js';

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/** `[layer, nodeIndex, tensorIndex]` of a tensor that feeds a call. */
type Ref = [string, number, number];

function isModel(cls: string): boolean {
  return MODEL_CLASSES.has(cls);
}

/** The tensors feeding one call: Keras 2 / TF.js lists, or Keras 3 `{ args, kwargs }` with keras tensors. */
function refsOf(node: unknown): Ref[] {
  if (Array.isArray(node)) return node.map((r) => [String(r[0]), Number(r[1] ?? 0), Number(r[2] ?? 0)]);
  const out: Ref[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) visit(x);
    else if (v !== null && typeof v === 'object') {
      const o = v as { class_name?: string; config?: { keras_history?: unknown[] } };
      if (o.class_name === '__keras_tensor__' && Array.isArray(o.config?.keras_history)) {
        const [n, i, t] = o.config.keras_history;
        out.push([String(n), Number(i), Number(t)]);
      }
    }
  };
  visit((node as { args?: unknown })?.args);
  return out;
}

/** `['a', 0, 0]` or `[['a', 0, 0], ...]` -> a list of refs. */
function refList(v: unknown): Ref[] {
  if (!Array.isArray(v)) return [];
  if (typeof v[0] === 'string') return [v as Ref];
  return v as Ref[];
}

/** Names `layer (Class): reason` for each layer that cannot be loaded; `where` prefixes nested models. */
export interface Problems {
  list: string[];
}

function layerName(l: KerasLayerJson): string {
  return String(l.config?.name ?? l.name ?? '?');
}

function convertLayer(l: KerasLayerJson, problems: Problems, where: string): OurLayerJson | undefined {
  if (isModel(l.class_name)) return convertModel(l, problems, `${where}${layerName(l)}/`);
  const r = fromKerasLayer(l.class_name, l.config ?? {});
  if ('unsupported' in r) {
    problems.list.push(`${where}${layerName(l)} (${l.class_name}): ${r.unsupported}`);
    return undefined;
  }
  return r.ok;
}

function convertSequential(json: KerasLayerJson, problems: Problems, where: string): OurLayerJson {
  const entries = (json.config?.layers ?? []) as KerasLayerJson[];
  const layers: OurLayerJson[] = [];
  let batchInputShape = (json.config?.batch_input_shape ?? json.config?.build_input_shape) as
    | unknown[]
    | undefined;
  for (const e of entries) {
    if (e.class_name === 'InputLayer') {
      batchInputShape = (e.config.batch_shape ?? e.config.batch_input_shape) as unknown[];
      continue;
    }
    const c = convertLayer(e, problems, where);
    if (c) layers.push(c);
  }
  // Ours keeps the input shape on the first layer (Keras 3 lists an InputLayer instead).
  if (Array.isArray(batchInputShape) && layers[0] && !layers[0].config.batchInputShape)
    layers[0].config.batchInputShape = batchInputShape;
  return { className: 'Sequential', config: { name: json.config?.name, layers } };
}

function convertFunctional(json: KerasLayerJson, problems: Problems, where: string): OurLayerJson {
  const cfg = json.config ?? {};
  const entries = (cfg.layers ?? []) as KerasLayerJson[];
  const converted = new Map<string, OurLayerJson | undefined>();
  for (const e of entries) converted.set(layerName(e), convertLayer(e, problems, where));
  const outputs = refList(cfg.output_layers);
  if (outputs.length === 0) problems.list.push(`${where}${cfg.name} (Functional): no outputs`);
  // Our nodes, each a call of a layer: `layer:nodeIndex` -> position in `nodes`.
  const nodes: Array<{ className: string; config: Record<string, unknown>; inbound: number[] }> = [];
  const index = new Map<string, number>();
  const pending: Array<{ layer: KerasLayerJson; k: number; refs: Ref[] }> = [];
  for (const e of entries) {
    const calls = e.class_name === 'InputLayer' ? [[]] : (e.inbound_nodes ?? []);
    calls.forEach((n, k) => {
      pending.push({ layer: e, k, refs: e.class_name === 'InputLayer' ? [] : refsOf(n) });
    });
  }
  // TF.js counts a nested model's own input node as its call 0, so its calls in the outer graph are 1, 2...;
  // Keras counts from 0. Spot the TF.js numbering: a reference past the model's listed calls.
  const offset = new Map<string, number>();
  const allRefs = [...pending.flatMap((p) => p.refs), ...outputs];
  for (const e of entries) {
    if (!isModel(e.class_name)) continue;
    const calls = e.inbound_nodes?.length ?? 0;
    const max = Math.max(-1, ...allRefs.filter((r) => r[0] === layerName(e)).map((r) => r[1]));
    if (max >= calls && max > 0) offset.set(layerName(e), 1);
  }
  const fix = (r: Ref): Ref => [r[0], r[1] - (offset.get(r[0]) ?? 0), r[2]];
  for (const p of pending) p.refs = p.refs.map(fix);
  outputs.splice(0, outputs.length, ...outputs.map(fix));
  // A shared layer's later calls may read layers listed after it: place calls once their inputs are placed.
  let progress = true;
  while (pending.length && progress) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const { layer, k, refs } = pending[i];
      if (!refs.every(([n, ni]) => index.has(`${n}:${ni}`))) continue;
      for (const [n, , t] of refs)
        if (t !== 0) problems.list.push(`${where}${n}: reads output ${t} of a layer (only single outputs)`);
      const ours = converted.get(layerName(layer));
      index.set(`${layerName(layer)}:${k}`, nodes.length);
      nodes.push({
        className: ours?.className ?? layer.class_name,
        config: ours?.config ?? { name: layerName(layer) },
        inbound: refs.map(([n, ni]) => index.get(`${n}:${ni}`)!),
      });
      pending.splice(i--, 1);
      progress = true;
    }
  }
  if (pending.length) {
    const names = pending.map((p) => layerName(p.layer)).join(', ');
    throw new ModelFormatError(
      `loadModel: functional model '${cfg.name}' has calls whose inputs never appear (${names}): the config is broken`,
    );
  }
  const inputs = refList(cfg.input_layers).map(([n, k]) => index.get(`${n}:${k}`));
  const outs = outputs.map(([n, k]) => index.get(`${n}:${k}`));
  if (inputs.some((i) => i === undefined) || outs.some((o) => o === undefined))
    throw new ModelFormatError(`loadModel: functional model '${cfg.name}' names inputs or outputs it lacks`);
  return {
    className: 'Functional',
    config: { name: cfg.name, trainable: cfg.trainable !== false, nodes, inputs, outputs: outs },
  };
}

/** Converts a Keras / TF.js model topology; unsupported layers go to `problems`. */
export function convertModel(json: KerasLayerJson, problems: Problems, where = ''): OurLayerJson {
  if (json === null || typeof json !== 'object' || !isModel(json.class_name)) {
    throw new ModelFormatError(
      `loadModel: expected a Sequential or Functional model config, got class ${JSON.stringify(json?.class_name)}`,
    );
  }
  return json.class_name === 'Sequential'
    ? convertSequential(json, problems, where)
    : convertFunctional(json, problems, where);
}

/** Which Keras reads the config: TensorFlow.js (and Keras 2) or Keras 3. */
export type KerasFlavor = 'tfjs' | 'keras3';

function wrap(flavor: KerasFlavor, className: string, config: Record<string, unknown>): KerasLayerJson {
  if (flavor === 'tfjs') return { class_name: className, config };
  // What Keras 3 writes (its deserializer checks module and registered name).
  if (className === 'Functional')
    return {
      module: 'keras.src.models.functional',
      class_name: className,
      config,
      registered_name: className,
    };
  return {
    module: className === 'Sequential' ? 'keras' : 'keras.layers',
    class_name: className,
    config,
    registered_name: null,
  };
}

function inputConfig(flavor: KerasFlavor, name: unknown, shape: unknown): Record<string, unknown> {
  const key = flavor === 'tfjs' ? 'batch_input_shape' : 'batch_shape';
  return { [key]: shape, dtype: 'float32', sparse: false, name };
}

/** Our `{ className, config }` (from `getConfig`) -> a Keras model or layer config. */
export function toKerasJson(ours: OurLayerJson, flavor: KerasFlavor): KerasLayerJson {
  const c = ours.config;
  if (ours.className === 'Sequential') {
    const layers = (c.layers as OurLayerJson[]).map((l) => toKerasJson(l, flavor));
    const shape = c.batchInputShape ?? (c.layers as OurLayerJson[])[0]?.config.batchInputShape;
    for (const l of layers) delete l.config.batch_input_shape;
    if (shape) {
      if (flavor === 'tfjs' && layers[0]) layers[0].config.batch_input_shape = shape;
      else layers.unshift(wrap(flavor, 'InputLayer', inputConfig(flavor, `${c.name}_input`, shape)));
    }
    return wrap(flavor, 'Sequential', { name: c.name, trainable: c.trainable ?? true, layers });
  }
  if (ours.className === 'Functional') {
    const nodes = c.nodes as Array<OurLayerJson & { inbound: number[] }>;
    const entries = new Map<string, KerasLayerJson>();
    const callIndex: number[] = [];
    const names: string[] = [];
    // TF.js numbers a nested model's calls from 1 (its own input node is call 0), Keras 3 from 0.
    const ref = (i: number): unknown[] => {
      const nested = nodes[i].className === 'Sequential' || nodes[i].className === 'Functional';
      return [names[i], callIndex[i] + (nested && flavor === 'tfjs' ? 1 : 0), 0];
    };
    nodes.forEach((n, i) => {
      const name = String(n.config.name);
      names.push(name);
      let e = entries.get(name);
      if (!e) {
        e =
          n.className === 'InputLayer'
            ? wrap(flavor, 'InputLayer', inputConfig(flavor, name, n.config.batchInputShape))
            : toKerasJson({ className: n.className, config: n.config }, flavor);
        e.name = name;
        e.inbound_nodes = [];
        entries.set(name, e);
      }
      callIndex[i] = e.inbound_nodes!.length;
      if (n.className !== 'InputLayer') e.inbound_nodes!.push(n.inbound.map((j) => ref(j).concat([{}])));
    });
    return wrap(flavor, flavor === 'tfjs' ? 'Model' : 'Functional', {
      name: c.name,
      trainable: c.trainable ?? true,
      layers: [...entries.values()],
      input_layers: (c.inputs as number[]).map(ref),
      // Configs written before multi-output models hold one `output` index.
      output_layers: (Array.isArray(c.outputs) ? (c.outputs as number[]) : [c.output as number]).map(ref),
    });
  }
  const config = toKerasLayerConfig(ours.className, c);
  if (c.batchInputShape) config.batch_input_shape = c.batchInputShape;
  return wrap(flavor, ours.className, config);
}
