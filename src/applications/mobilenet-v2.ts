import { readSafetensors, type Source } from '../io/resource.js';
import { div, mul, sub } from '../kernels/binary.js';
import { assertTensor } from '../kernels/util.js';
import { Functional, input } from '../nn/functional.js';
import type { SymbolicTensor } from '../nn/layer.js';
import { ReLU } from '../nn/layers/basic.js';
import { Conv2D, DepthwiseConv2D } from '../nn/layers/conv.js';
import { Dense } from '../nn/layers/dense.js';
import { BatchNormalization } from '../nn/layers/normalization.js';
import { GlobalAveragePooling2D } from '../nn/layers/pooling.js';
import { Add, ZeroPadding2D } from '../nn/layers/shape.js';
import { assignWeights } from '../nn/weights.js';
import { ArgumentError, ShapeError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Keras `applications.MobileNetV2`: the same architecture and layer names (Conv1, bn_Conv1,
 * expanded_conv_*, block_1..16_*, Conv_1, Conv_1_bn, out_relu), so Keras weights load by name.
 */

export interface MobileNetV2Args {
  /** `[height, width, 3]` (default [224, 224, 3]). */
  inputShape?: [number, number, number];
  /** Width multiplier: channels are scaled by it (default 1.0). */
  alpha?: number;
  /** Whether to end with the ImageNet classifier (pooling + Dense; default true). */
  includeTop?: boolean;
  /** 'avg' adds GlobalAveragePooling2D when includeTop is false. */
  pooling?: 'avg' | null;
  /** Classes of the classifier (default 1000). */
  classes?: number;
  /** The classifier's activation (default 'softmax'). */
  classifierActivation?: 'softmax' | 'linear';
  /** The model's name. */
  name?: string;
}

const MOBILENET_KEYS: OptionKeys<MobileNetV2Args> = {
  inputShape: true,
  alpha: true,
  includeTop: true,
  pooling: true,
  classes: true,
  classifierActivation: true,
  name: true,
};

function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** Keras `correct_pad`: padding before a stride-2 3x3 conv ((0,1),(0,1) for even sizes). */
function correctPad(size: number | null): [number, number] {
  const adjust = size === null ? 1 : 1 - (size % 2);
  return [1 - adjust, 1];
}

const bn = (name: string) => new BatchNormalization({ name, epsilon: 1e-3, momentum: 0.999 });
const relu6 = (name: string) => new ReLU({ name, maxValue: 6 });

function invertedResBlock(
  x: SymbolicTensor,
  expansion: number,
  stride: number,
  alpha: number,
  filters: number,
  blockId: number,
): SymbolicTensor {
  const inChannels = x.shape[3] as number;
  const pointwise = makeDivisible(Math.trunc(filters * alpha), 8);
  const inputs = x;
  let prefix = `block_${blockId}_`;
  if (blockId) {
    x = new Conv2D({
      name: `${prefix}expand`,
      filters: expansion * inChannels,
      kernelSize: 1,
      padding: 'same',
      useBias: false,
    }).apply(x);
    x = bn(`${prefix}expand_BN`).apply(x);
    x = relu6(`${prefix}expand_relu`).apply(x);
  } else {
    prefix = 'expanded_conv_';
  }
  if (stride === 2) {
    const [ph, pw] = [correctPad(x.shape[1]), correctPad(x.shape[2])];
    x = new ZeroPadding2D({ name: `${prefix}pad`, padding: [ph, pw] }).apply(x);
  }
  x = new DepthwiseConv2D({
    name: `${prefix}depthwise`,
    kernelSize: 3,
    strides: stride,
    useBias: false,
    padding: stride === 1 ? 'same' : 'valid',
  }).apply(x);
  x = bn(`${prefix}depthwise_BN`).apply(x);
  x = relu6(`${prefix}depthwise_relu`).apply(x);
  x = new Conv2D({
    name: `${prefix}project`,
    filters: pointwise,
    kernelSize: 1,
    padding: 'same',
    useBias: false,
  }).apply(x);
  x = bn(`${prefix}project_BN`).apply(x);
  if (inChannels === pointwise && stride === 1) return new Add({ name: `${prefix}add` }).apply([inputs, x]);
  return x;
}

/** The block table of MobileNetV2: [filters, stride, expansion] per block 0..16. */
const BLOCKS: Array<[number, number, number]> = [
  [16, 1, 1],
  [24, 2, 6],
  [24, 1, 6],
  [32, 2, 6],
  [32, 1, 6],
  [32, 1, 6],
  [64, 2, 6],
  [64, 1, 6],
  [64, 1, 6],
  [64, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [160, 2, 6],
  [160, 1, 6],
  [160, 1, 6],
  [320, 1, 6],
];

/** Builds MobileNetV2 with freshly initialised weights (see `loadMobileNetV2Weights`). */
function build(args: MobileNetV2Args = {}): Functional {
  if (args === null || typeof args !== 'object')
    throw new ArgumentError(`mobileNetV2: expected an options object, got ${JSON.stringify(args)}`);
  checkOptions(args, MOBILENET_KEYS, 'mobileNetV2');
  const inputShape = args.inputShape ?? [224, 224, 3];
  const alpha = args.alpha ?? 1.0;
  const includeTop = args.includeTop ?? true;
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    inputShape[2] !== 3 ||
    inputShape.slice(0, 2).some((d) => !Number.isInteger(d) || d < 32)
  ) {
    throw new ShapeError(
      `mobileNetV2: inputShape must be [height, width, 3] with sides >= 32, got ${JSON.stringify(inputShape)}`,
    );
  }
  if (!(alpha > 0) || !Number.isFinite(alpha))
    throw new ArgumentError(`mobileNetV2: alpha must be a finite number > 0, got ${alpha}`);
  if (typeof includeTop !== 'boolean')
    throw new ArgumentError(`mobileNetV2: includeTop must be a boolean, got ${JSON.stringify(includeTop)}`);
  if (args.classes !== undefined && !(Number.isInteger(args.classes) && args.classes > 0))
    throw new ArgumentError(
      `mobileNetV2: classes must be a positive integer, got ${JSON.stringify(args.classes)}`,
    );
  const act = args.classifierActivation;
  if (act !== undefined && act !== 'softmax' && act !== 'linear') {
    throw new ArgumentError(
      `mobileNetV2: classifierActivation must be 'softmax' or 'linear', got ${JSON.stringify(act)}`,
    );
  }
  if (args.pooling !== undefined && args.pooling !== null && args.pooling !== 'avg') {
    throw new ArgumentError(
      `mobileNetV2: pooling must be 'avg' or null, got ${JSON.stringify(args.pooling)}`,
    );
  }
  const img = input({ shape: inputShape, name: 'input_1' });
  let x = new Conv2D({
    name: 'Conv1',
    filters: makeDivisible(32 * alpha, 8),
    kernelSize: 3,
    strides: 2,
    padding: 'same',
    useBias: false,
  }).apply(img);
  x = bn('bn_Conv1').apply(x);
  x = relu6('Conv1_relu').apply(x);
  BLOCKS.forEach(([filters, stride, expansion], id) => {
    x = invertedResBlock(x, expansion, stride, alpha, filters, id);
  });
  const last = alpha > 1.0 ? makeDivisible(1280 * alpha, 8) : 1280;
  x = new Conv2D({ name: 'Conv_1', filters: last, kernelSize: 1, useBias: false }).apply(x);
  x = bn('Conv_1_bn').apply(x);
  x = relu6('out_relu').apply(x);
  if (includeTop) {
    x = new GlobalAveragePooling2D({ name: 'global_average_pooling2d' }).apply(x);
    x = new Dense({
      name: 'predictions',
      units: args.classes ?? 1000,
      activation: args.classifierActivation ?? 'softmax',
    }).apply(x);
  } else if (args.pooling === 'avg') {
    x = new GlobalAveragePooling2D({ name: 'global_average_pooling2d' }).apply(x);
  }
  return new Functional({
    inputs: img,
    outputs: x,
    name: args.name ?? `mobilenetv2_${alpha.toFixed(2)}_${inputShape[0]}`,
  });
}

/**
 * MobileNetV2 input preprocessing: RGB in [0, 255] -> [-1, 1] (x / 127.5 - 1), as Keras'
 * `mobilenet_v2.preprocess_input`. For inputs already in [0, 1], pass `{ from: 'unit' }` (x * 2 - 1).
 */
function preprocessInput(x: Tensor, opts: { from?: 'bytes' | 'unit' } = {}): Tensor {
  assertTensor(x, 'mobileNetV2.preprocessInput', 'x');
  checkOptions<{ from?: 'bytes' | 'unit' }>(opts, { from: true }, 'mobileNetV2.preprocessInput');
  if (opts?.from !== undefined && opts.from !== 'bytes' && opts.from !== 'unit') {
    throw new ArgumentError(
      `mobileNetV2.preprocessInput: from must be 'bytes' or 'unit', got ${JSON.stringify(opts?.from)}`,
    );
  }
  return opts.from === 'unit' ? sub(mul(x, 2), 1) : sub(div(x, 127.5), 1);
}

/** `mobileNetV2(args)` builds the model; `mobileNetV2.preprocessInput(x)` maps pixels to [-1, 1]. */
export const mobileNetV2: typeof build & {
  /** Maps RGB pixels in [0, 255] to [-1, 1] (`{ from: 'unit' }`: from [0, 1]), as Keras' `preprocess_input`. */
  preprocessInput: typeof preprocessInput;
} = Object.assign(build, { preprocessInput });

/** The weight files of `loadMobileNetV2Weights` (paths, URLs or bytes). */
export interface MobileNetV2WeightFiles {
  /** Backbone weights (`mobilenet_v2_1.0_224_no_top.safetensors`). */
  backbone: Source;
  /** ImageNet classifier (`Logits/kernel`, `Logits/bias`), for includeTop models. */
  top?: Source;
}

/** The alphas and input sizes Keras ships ImageNet weights for. */
export const KERAS_MOBILENET_V2_ALPHAS: readonly number[] = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];
export const KERAS_MOBILENET_V2_SIZES: readonly number[] = [96, 128, 160, 192, 224];

/** `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<size>[_no_top].h5` -> its parts. */
export function parseKerasMobileNetV2Name(
  source: Source,
): { alpha: number; size: number; top: boolean } | undefined {
  const name =
    String(source instanceof URL ? source.pathname : source)
      .split(/[/\\]/)
      .pop() ?? '';
  const m = /^mobilenet_v2_weights_tf_dim_ordering_tf_kernels_([\d.]+)_(\d+)(_no_top)?\.h5$/.exec(name);
  return m ? { alpha: Number(m[1]), size: Number(m[2]), top: !m[3] } : undefined;
}

/**
 * Loads a Keras applications weight file (`mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5`,
 * or `..._no_top.h5`; any alpha and size) into a model built by `mobileNetV2` with the same alpha. A
 * file with the classifier fills `predictions` (Keras 2 called it `Logits`) when the model has a top.
 */
async function loadKerasH5(model: Functional, source: Source): Promise<void> {
  const [{ readBytes }, { parseKerasH5 }, { assignLeafWeights }] = await Promise.all([
    import('../io/resource.js'),
    import('../io/keras.js'),
    import('../nn/formats.js'),
  ]);
  const parsed = parseKerasMobileNetV2Name(source);
  const hasTop = model.layers.some((l) => l.name === 'predictions');
  if (parsed && !parsed.top && hasTop) {
    throw new ArgumentError(
      `loadMobileNetV2Weights: ${String(source)} has no classifier (_no_top) but the model has one (includeTop); use the file without _no_top or build with includeTop: false`,
    );
  }
  const bytes = await readBytes('loadMobileNetV2Weights', source);
  const leaves = parseKerasH5(bytes, String(source)).readWeights();
  if (!hasTop) leaves.delete('Logits');
  try {
    assignLeafWeights(model, leaves, {
      source: String(source),
      renameLayer: (n) => (n === 'Logits' ? 'predictions' : n),
    });
  } catch (e) {
    if (!parsed) throw e;
    (e as Error).message +=
      ` (the file name says alpha ${parsed.alpha}: build the model with mobileNetV2({ alpha: ${parsed.alpha} }))`;
    throw e;
  }
}

/**
 * Loads ImageNet weights into a model built by `mobileNetV2`: our Keras-named safetensors
 * (`{ backbone, top? }`), or one Keras applications `.h5` file
 * (`mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<size>[_no_top].h5`). File paths in Node,
 * URLs (fetched) in Node or a browser. Every weight must be present with the right shape; errors list
 * the exact missing or mismatched names.
 */
export async function loadMobileNetV2Weights(
  model: Functional,
  files: MobileNetV2WeightFiles | Source,
): Promise<void> {
  if (!(model instanceof Functional))
    throw new ArgumentError('loadMobileNetV2Weights: model must be a model built by mobileNetV2()');
  if (typeof files === 'string' || files instanceof URL) {
    if (!/\.(h5|hdf5)$/i.test(String(files).replace(/[?#].*$/, ''))) {
      throw new ArgumentError(
        `loadMobileNetV2Weights: a single file must be a Keras .h5 weights file, got ${JSON.stringify(String(files))}; pass { backbone, top? } for safetensors`,
      );
    }
    return loadKerasH5(model, files);
  }
  if (files === null || typeof files !== 'object' || files.backbone === undefined) {
    throw new ArgumentError(
      `loadMobileNetV2Weights: files must be { backbone, top? } (paths or URLs) or a Keras .h5 path, got ${JSON.stringify(files)}`,
    );
  }
  checkOptions<MobileNetV2WeightFiles>(
    files,
    { backbone: true, top: true },
    'loadMobileNetV2Weights',
    'files',
  );
  const backbone = await readSafetensors('loadMobileNetV2Weights', files.backbone);
  const top = model.layers.find((l) => l.name === 'predictions');
  const backboneVars = model.weights.filter((v) => !v.name?.startsWith('predictions/'));
  assignWeights(backboneVars, backbone, { source: String(files.backbone) });
  if (top) {
    if (!files.top) {
      throw new ArgumentError(
        'loadMobileNetV2Weights: the model has a classifier top (includeTop), pass files.top too',
      );
    }
    const parsed = await readSafetensors('loadMobileNetV2Weights', files.top);
    // The top file uses the TF-Slim names of the classifier; Keras calls the layer 'predictions'.
    assignWeights(top.weights, parsed, {
      source: String(files.top),
      rename: (n) => n.replace(/^Logits\//, 'predictions/'),
    });
  }
}
