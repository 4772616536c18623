import { chunks, grid, range } from './dispatch.js';
import { type DType, wgslType } from './dtype.js';
import { defineKernel } from './program.js';
import { emptyTensor, type Tensor } from './tensor.js';

/** Fills a new tensor with one value (zeros, ones, fill). */

const fill = defineKernel<{ t: 'f32' | 'i32' }, 'out', 'n' | 'value'>({
  name: 'fill',
  bindings: ({ t }) => ({ out: `rw ${t}` }),
  uniforms: ({ t }) => ({ n: 'u32', value: t }),
  index: { total: 'n' },
  body: () => '  out[i] = p.value;',
});

export function fillKernel(shape: readonly number[], value: number, dtype: DType): Tensor {
  const out = emptyTensor(shape, dtype);
  const t = wgslType(dtype);
  for (const [start, n] of chunks(out.size)) {
    fill.run({
      constants: { t },
      buffers: { out: range(out, start, n) },
      uniforms: { n, value },
      workgroups: grid(n),
    });
  }
  return out;
}
