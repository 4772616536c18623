import { type DType, wgslType } from '../tensor/dtype.js';
import { ParamWriter, runKernel } from '../tensor/queue.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { chunks, grid, linearIndex, range } from './util.js';

/** Fills a new tensor with one value (zeros, ones, fill). */

const source = (t: 'f32' | 'i32') => `
struct P { n: u32, value: ${t} }
@group(0) @binding(0) var<storage, read_write> out: array<${t}>;
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex()};
  if (i < p.n) { out[i] = p.value; }
}`;

export function fillKernel(shape: readonly number[], value: number, dtype: DType): Tensor {
  const out = emptyTensor(shape, dtype);
  const t = wgslType(dtype);
  for (const [start, n] of chunks(out.size)) {
    const w = new ParamWriter().u32(n);
    runKernel({
      key: `fill_${t}`,
      source: () => source(t),
      buffers: [range(out, start, n)],
      params: (t === 'f32' ? w.f32(value) : w.i32(value)).done(),
      workgroups: grid(n),
    });
  }
  return out;
}
