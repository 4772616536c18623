import { type Functional, input, model, type SymbolicTensor } from '../../src/node.js';

/**
 * Cuts a functional model in two at the output of layer `cut`: `lower` maps the inputs to that
 * output, `upper` maps a new input of the same shape to the model's output through the same layer
 * objects (shared weights: training `upper` trains the original model). The cut must separate the
 * graph: no layer after it may read a tensor from before it.
 */
export function splitAt(base: Functional, cut: string): { lower: Functional; upper: Functional } {
  const at = base.layerOutput(cut);
  const lower = model({ inputs: base.inputs, outputs: at, name: `${base.name}_lower` });
  const x = input({ shape: at.shape.slice(1) as number[], name: `${cut}_input` });
  const mapped = new Map<SymbolicTensor, SymbolicTensor>([[at, x]]);
  const rebuild = (t: SymbolicTensor): SymbolicTensor => {
    const done = mapped.get(t);
    if (done) return done;
    if (t.inputs.length === 0)
      throw new Error(`splitAt: '${t.layer.name}' is reached from above the cut '${cut}'`);
    const ins = t.inputs.map(rebuild);
    const out = t.layer.apply(ins.length === 1 ? ins[0] : ins) as SymbolicTensor;
    mapped.set(t, out);
    return out;
  };
  const upper = model({ inputs: x, outputs: rebuild(base.outputs[0]), name: `${base.name}_upper` });
  return { lower, upper };
}
