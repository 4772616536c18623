/**
 * One Keras layer config <-> one of ours. Keras (Python 2 and 3, and TensorFlow.js' model.json) writes
 * snake_case configs (`kernel_size`, `use_bias`, initializers as `{ class_name, config }`); ours are the
 * camelCase options of our layer constructors. What we cannot run faithfully (dilations, channels
 * first, unknown activations...) is reported as a reason, so the caller can list every unsupported
 * layer in one error before any weight is read.
 */
import type { InitializerName } from '../nn/initializers.js';
import { getRegularizer, type RegularizerConfig } from '../nn/regularizers.js';

/** A layer entry of a Keras model config (Keras 2, Keras 3 or TensorFlow.js). */
export interface KerasLayerJson {
  class_name: string;
  config: Record<string, unknown>;
  name?: string;
  inbound_nodes?: unknown[];
  module?: string;
  registered_name?: string | null;
  build_config?: unknown;
}

/** Our `{ className, config }`, as `layerFromConfig` takes it. */
export interface OurLayerJson {
  className: string;
  config: Record<string, unknown>;
}

/** The converted layer, or why it cannot be converted. */
export type Converted = { ok: OurLayerJson } | { unsupported: string };

const ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax']);

/** Keras' activation spec: a string, or a Keras 3 `{ class_name: 'function', config: 'relu' }`. */
function activationName(v: unknown): string | undefined {
  if (v === undefined || v === null) return 'linear';
  if (typeof v === 'string') return v === 'Linear' ? 'linear' : v;
  if (typeof v === 'object') {
    const o = v as { config?: unknown; class_name?: unknown };
    if (typeof o.config === 'string') return o.config;
    if (typeof o.class_name === 'string') return o.class_name.toLowerCase();
  }
  return undefined;
}

const INITIALIZERS: Record<string, InitializerName> = {
  Zeros: 'zeros',
  Ones: 'ones',
  GlorotUniform: 'glorotUniform',
  GlorotNormal: 'glorotNormal',
  HeNormal: 'heNormal',
  HeUniform: 'heUniform',
  LecunNormal: 'lecunNormal',
  RandomNormal: 'randomNormal',
};

/**
 * Keras initializer -> ours. Initializers only matter for training from scratch (loaded weights
 * replace them), so unknown ones fall back to the layer's default rather than failing the load.
 */
function initializer(v: unknown): InitializerName | undefined {
  if (typeof v === 'string') {
    const camel = v.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    return (Object.values(INITIALIZERS) as string[]).includes(camel) ? (camel as InitializerName) : undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const { class_name: cls, config } = v as { class_name?: string; config?: Record<string, unknown> };
  if (cls && cls in INITIALIZERS) return INITIALIZERS[cls];
  if (cls === 'VarianceScaling' && config) {
    const { scale, mode, distribution } = config;
    const normal = distribution === 'truncated_normal' || distribution === 'normal';
    if (scale === 1 && mode === 'fan_avg') return normal ? 'glorotNormal' : 'glorotUniform';
    if (scale === 2 && mode === 'fan_in') return normal ? 'heNormal' : 'heUniform';
    if (scale === 1 && mode === 'fan_in' && normal) return 'lecunNormal';
  }
  return undefined;
}

/** Ours -> Keras (TensorFlow.js and Keras 3 both read `{ class_name, config }`). */
export function kerasInitializer(name: unknown): { class_name: string; config: Record<string, unknown> } {
  const cls = Object.keys(INITIALIZERS).find((k) => INITIALIZERS[k] === name) ?? 'GlorotUniform';
  return { class_name: cls, config: cls === 'Zeros' || cls === 'Ones' ? {} : { seed: null } };
}

/**
 * Keras / TF.js regularizer config (L1, L2, L1L2 with `class_name`) -> ours; anything else (none,
 * a custom class) gives undefined, so the model still loads for inference.
 */
function regularizer(v: unknown): RegularizerConfig | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  try {
    return getRegularizer(v)?.getConfig();
  } catch {
    return undefined;
  }
}

/** Ours -> Keras `{ class_name, config }` (null when none). */
function kerasRegularizer(r: unknown): { class_name: string; config: Record<string, unknown> } | null {
  const ours = regularizer(r);
  return ours ? { class_name: ours.className, config: { ...ours.config } } : null;
}

function pairOf(v: unknown): [number, number] | undefined {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((d) => typeof d === 'number')) return [v[0], v[1]];
  return undefined;
}

function isOnes(v: unknown): boolean {
  const p = v === undefined || v === null ? [1, 1] : pairOf(v);
  return p !== undefined && p[0] === 1 && p[1] === 1;
}

/** Options every layer has: name and trainable (the input shape is the topology's business). */
function common(c: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: c.name };
  if (c.trainable === false) out.trainable = false;
  const shape = (c.batch_input_shape ?? c.batch_shape) as Array<number | null> | undefined;
  if (Array.isArray(shape)) out.batchInputShape = shape;
  return out;
}

type Mapper = (c: Record<string, unknown>, why: string[]) => Record<string, unknown>;

function checkChannelsLast(c: Record<string, unknown>, why: string[]): void {
  if (c.data_format !== undefined && c.data_format !== null && c.data_format !== 'channels_last')
    why.push(`data_format ${JSON.stringify(c.data_format)} (only channels_last)`);
}

function checkActivation(c: Record<string, unknown>, why: string[]): string {
  const a = activationName(c.activation);
  if (a === undefined || !ACTIVATIONS.has(a))
    why.push(`activation ${JSON.stringify(c.activation)} (supported: ${[...ACTIVATIONS].join(', ')})`);
  return a ?? 'linear';
}

function convCommon(c: Record<string, unknown>, why: string[]): Record<string, unknown> {
  checkChannelsLast(c, why);
  if (!isOnes(c.dilation_rate)) why.push(`dilation_rate ${JSON.stringify(c.dilation_rate)} (only 1)`);
  if (c.groups !== undefined && c.groups !== null && c.groups !== 1) why.push(`groups ${c.groups} (only 1)`);
  const padding = c.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid') why.push(`padding ${JSON.stringify(padding)}`);
  return {
    kernelSize: pairOf(c.kernel_size),
    strides: pairOf(c.strides ?? 1),
    padding,
    activation: checkActivation(c, why),
    useBias: c.use_bias ?? true,
    biasInitializer: initializer(c.bias_initializer),
    biasRegularizer: regularizer(c.bias_regularizer),
  };
}

const MAPPERS: Record<string, Mapper> = {
  InputLayer: () => ({}),
  Dense: (c, why) => ({
    units: c.units,
    activation: checkActivation(c, why),
    useBias: c.use_bias ?? true,
    kernelInitializer: initializer(c.kernel_initializer),
    biasInitializer: initializer(c.bias_initializer),
    kernelRegularizer: regularizer(c.kernel_regularizer),
    biasRegularizer: regularizer(c.bias_regularizer),
  }),
  Conv2D: (c, why) => ({
    ...convCommon(c, why),
    filters: c.filters,
    kernelInitializer: initializer(c.kernel_initializer),
    kernelRegularizer: regularizer(c.kernel_regularizer),
  }),
  DepthwiseConv2D: (c, why) => ({
    ...convCommon(c, why),
    depthMultiplier: c.depth_multiplier ?? 1,
    kernelInitializer: initializer(c.depthwise_initializer),
    kernelRegularizer: regularizer(c.depthwise_regularizer),
  }),
  BatchNormalization: (c, why) => {
    const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : (c.axis ?? -1);
    if (axis !== -1 && axis !== 3) why.push(`axis ${JSON.stringify(c.axis)} (only the last axis)`);
    if (c.renorm === true) why.push('renorm');
    return { momentum: c.momentum, epsilon: c.epsilon, center: c.center, scale: c.scale };
  },
  ReLU: (c, why) => {
    const slope = c.negative_slope ?? 0;
    if (slope !== 0) why.push(`negative_slope ${slope} (only 0)`);
    if ((c.threshold ?? 0) !== 0) why.push(`threshold ${c.threshold} (only 0)`);
    return c.max_value === null || c.max_value === undefined ? {} : { maxValue: c.max_value };
  },
  Activation: (c, why) => ({ activation: checkActivation(c, why) }),
  Softmax: (c, why) => {
    const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : (c.axis ?? -1);
    if (!Number.isInteger(axis)) why.push(`axis ${JSON.stringify(c.axis)}`);
    return { axis };
  },
  Dropout: (c, why) => {
    if (c.noise_shape !== undefined && c.noise_shape !== null) why.push('noise_shape');
    return c.seed === null || c.seed === undefined ? { rate: c.rate } : { rate: c.rate, seed: c.seed };
  },
  Flatten: (c, why) => {
    checkChannelsLast(c, why);
    return {};
  },
  Reshape: (c) => ({ targetShape: c.target_shape }),
  ZeroPadding2D: (c, why) => {
    checkChannelsLast(c, why);
    return { padding: c.padding };
  },
  MaxPooling2D: (c, why) => pooling(c, why),
  AveragePooling2D: (c, why) => pooling(c, why),
  GlobalAveragePooling2D: (c, why) => {
    checkChannelsLast(c, why);
    return { keepDims: (c.keepdims ?? c.keep_dims ?? false) as boolean };
  },
  Add: () => ({}),
};

function pooling(c: Record<string, unknown>, why: string[]): Record<string, unknown> {
  checkChannelsLast(c, why);
  const poolSize = pairOf(c.pool_size ?? 2);
  return { poolSize, strides: pairOf(c.strides ?? c.pool_size ?? 2), padding: c.padding ?? 'valid' };
}

/** The Keras layer classes we can load (plus nested Sequential / Functional models). */
export const SUPPORTED_LAYERS: readonly string[] = Object.keys(MAPPERS);

/** Converts one (non-model) Keras layer config; `unsupported` says why it cannot be. */
export function fromKerasLayer(className: string, config: Record<string, unknown>): Converted {
  const map = MAPPERS[className];
  if (!map) return { unsupported: 'no such layer in wgsl-nn' };
  const why: string[] = [];
  const mapped = map(config, why);
  if (why.length) return { unsupported: why.join(', ') };
  const out: Record<string, unknown> = { ...common(config) };
  for (const [k, v] of Object.entries(mapped)) if (v !== undefined) out[k] = v;
  return { ok: { className, config: out } };
}

/** Ours -> the snake_case Keras config (without the topology fields). */
export function toKerasLayerConfig(className: string, c: Record<string, unknown>): Record<string, unknown> {
  const base: Record<string, unknown> = { name: c.name, trainable: c.trainable ?? true, dtype: 'float32' };
  const conv = (): Record<string, unknown> => ({
    kernel_size: c.kernelSize,
    strides: c.strides,
    padding: c.padding,
    data_format: 'channels_last',
    dilation_rate: [1, 1],
    activation: c.activation,
    use_bias: c.useBias,
    bias_initializer: kerasInitializer(c.biasInitializer),
    bias_regularizer: kerasRegularizer(c.biasRegularizer),
  });
  switch (className) {
    case 'Dense':
      return {
        ...base,
        units: c.units,
        activation: c.activation,
        use_bias: c.useBias,
        kernel_initializer: kerasInitializer(c.kernelInitializer),
        bias_initializer: kerasInitializer(c.biasInitializer),
        kernel_regularizer: kerasRegularizer(c.kernelRegularizer),
        bias_regularizer: kerasRegularizer(c.biasRegularizer),
      };
    case 'Conv2D':
      return {
        ...base,
        ...conv(),
        filters: c.filters,
        groups: 1,
        kernel_initializer: kerasInitializer(c.kernelInitializer),
        kernel_regularizer: kerasRegularizer(c.kernelRegularizer),
      };
    case 'DepthwiseConv2D':
      return {
        ...base,
        ...conv(),
        depth_multiplier: c.depthMultiplier,
        depthwise_initializer: kerasInitializer(c.kernelInitializer),
        depthwise_regularizer: kerasRegularizer(c.kernelRegularizer),
      };
    case 'BatchNormalization':
      return {
        ...base,
        axis: -1,
        momentum: c.momentum,
        epsilon: c.epsilon,
        center: c.center,
        scale: c.scale,
      };
    case 'ReLU':
      return { ...base, max_value: c.maxValue ?? null, negative_slope: 0, threshold: 0 };
    case 'Activation':
      return { ...base, activation: c.activation };
    case 'Softmax':
      return { ...base, axis: c.axis };
    case 'Dropout':
      return { ...base, rate: c.rate, noise_shape: null, seed: c.seed ?? null };
    case 'Flatten':
      return { ...base, data_format: 'channels_last' };
    case 'Reshape':
      return { ...base, target_shape: c.targetShape };
    case 'ZeroPadding2D':
      return { ...base, padding: c.padding, data_format: 'channels_last' };
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return {
        ...base,
        pool_size: c.poolSize,
        strides: c.strides,
        padding: c.padding,
        data_format: 'channels_last',
      };
    case 'GlobalAveragePooling2D':
      return { ...base, data_format: 'channels_last', ...(c.keepDims ? { keepdims: true } : {}) };
    default:
      return base;
  }
}
