import type { Activation } from '../../kernels/activation.js';
import { mul, sub } from '../../kernels/binary.js';
import { matmul } from '../../kernels/matmul.js';
import { sum } from '../../kernels/reduce.js';
import { reluGrad } from '../../kernels/unary.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerGradient } from '../registry.js';
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
registerGradient('matmul', (dy, r, need) => {
  const [a, b] = r.inputs;
  const {
    transposeA = false,
    transposeB = false,
    activation = 'linear',
  } = (r.attrs ?? {}) as {
    transposeA?: boolean;
    transposeB?: boolean;
    activation?: Activation;
  };
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
});
