import type { Activation } from '../../kernels/activation.js';
import { mul, sub } from '../../kernels/binary.js';
import { matmul } from '../../kernels/matmul.js';
import { sum } from '../../kernels/reduce.js';
import { reluGrad } from '../../kernels/unary.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradTable } from '../registry.js';
import { unbroadcast } from './util.js';

/** dy * act'(z), written with the activation's output y. */
export function activationGrad(act: Activation, dy: Tensor, y: Tensor): Tensor {
  switch (act) {
    case 'linear':
      return dy;
    case 'relu':
    case 'relu6':
      return reluGrad(dy, y, act);
    case 'sigmoid':
      return mul(dy, mul(y, sub(1, y)));
    case 'tanh':
      return mul(dy, sub(1, mul(y, y)));
  }
}

// y = act(op(a) @ op(b) + bias), op = optional transpose of the last two axes.
export const matmulGrads = {
  matmul: (dy, r, need) => {
    const [a, b] = r.inputs;
    const { transposeA, transposeB, activation } = r.attrs;
    const dz = activationGrad(activation, dy, r.output);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (need[0]) {
      da = transposeA
        ? matmul(b, dz, { transposeA: transposeB, transposeB: true })
        : matmul(dz, b, { transposeB: !transposeB });
      da = unbroadcast(da, a.shape);
    }
    if (need[1]) {
      db = transposeB
        ? matmul(dz, a, { transposeA: true, transposeB: transposeA })
        : matmul(a, dz, { transposeA: !transposeA });
      db = unbroadcast(db, b.shape);
    }
    const out: Array<Tensor | null> = [da, db];
    if (r.inputs.length > 2) {
      out.push(
        need[2]
          ? sum(
              dz,
              Array.from({ length: dz.rank - 1 }, (_, i) => i),
            )
          : null,
      );
    }
    return out;
  },
} satisfies Partial<GradTable>;
