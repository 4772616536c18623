import { describe, expect, it } from 'vitest';
import {
  Adam,
  ArgumentError,
  BatchNormalization,
  Conv2D,
  Dataset,
  DecodePool,
  Dense,
  DepthwiseConv2D,
  Dropout,
  exponentialDecay,
  Flatten,
  GlobalAveragePooling2D,
  imageDatasetFromDirectory,
  input,
  type Layer,
  layerFromConfig,
  MaxPooling2D,
  mobileNetV2,
  model,
  ReLU,
  Reshape,
  readSafetensorsFile,
  Sequential,
  SGD,
  Softmax,
  tensor,
  writeFileAtomic,
  ZeroPadding2D,
} from '../src/node.js';

/*
 * Issue 15, bug 9: unknown option keys were silently ignored, so `fit({ validation_split: 0.2 })`
 * or `imageDatasetFromDirectory(dir, { image_size: [..] })` from plain JavaScript trained on the
 * defaults. Every public option bag now goes through one helper (src/tensor/options.ts).
 */

/** Calls `run` with a Keras-style (snake_case) key and checks the typed error and its suggestion. */
async function rejects(run: () => unknown, where: string, key: string, meant: string): Promise<void> {
  let err: unknown;
  try {
    await run();
  } catch (e) {
    err = e;
  }
  expect(err, `${where} accepted '${key}'`).toBeInstanceOf(ArgumentError);
  const msg = (err as Error).message;
  expect(msg).toContain(`${where}: unknown option '${key}' (did you mean '${meant}'?)`);
  expect(msg).toContain(`'${meant}'`);
}

const loose = <T>(o: Record<string, unknown>): T => o as T;

describe('unknown option keys', () => {
  it('fit, evaluate, predict and compile reject them and suggest the camelCase name', async () => {
    const m = new Sequential([new Dense({ units: 2, inputShape: [3] })]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tensor(new Float32Array(12), [4, 3]);
    const y = tensor(new Float32Array(8), [4, 2]);
    await rejects(
      () => m.fit(x, y, loose({ validation_split: 0.2 })),
      'fit',
      'validation_split',
      'validationSplit',
    );
    await rejects(() => m.fit(x, y, loose({ epoch: 2 })), 'fit', 'epoch', 'epochs');
    await rejects(() => m.evaluate(x, y, loose({ batch_size: 2 })), 'evaluate', 'batch_size', 'batchSize');
    await rejects(() => m.predict(x, loose({ batch_size: 2 })), 'predict', 'batch_size', 'batchSize');
    await rejects(
      () => m.compile(loose({ optimizer: 'sgd', loss: 'mse', metric: ['accuracy'] })),
      'compile',
      'metric',
      'metrics',
    );
    // A key with no near name is listed with the accepted ones.
    const err = await m.fit(x, y, loose({ colour: 'red' })).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toMatch(
      /^fit: unknown option 'colour'; options are 'epochs', 'batchSize'/,
    );
    const h = await m.fit(x, y, { epochs: 1, verbose: 0 });
    expect(h.history.loss).toHaveLength(1);
    for (const t of [x, y]) t.dispose();
    m.dispose();
  });

  it('imageDatasetFromDirectory rejects image_size before reading the folder', async () => {
    await rejects(
      () => imageDatasetFromDirectory('/no/such/folder', loose({ image_size: [64, 64] })),
      'imageDatasetFromDirectory',
      'image_size',
      'imageSize',
    );
  });

  it('layers, optimizers, models and datasets reject them too', async () => {
    const cases: Array<[() => unknown, string, string, string]> = [
      [() => new Dense(loose({ units: 2, use_bias: false })), 'Dense', 'use_bias', 'useBias'],
      [() => new Dense(loose({ units: 2, input_shape: [3] })), 'Dense', 'input_shape', 'inputShape'],
      [() => new Conv2D(loose({ filters: 2, kernel_size: 3 })), 'Conv2D', 'kernel_size', 'kernelSize'],
      [
        () => new DepthwiseConv2D(loose({ kernelSize: 3, depth_multiplier: 2 })),
        'DepthwiseConv2D',
        'depth_multiplier',
        'depthMultiplier',
      ],
      [() => new ReLU(loose({ max_value: 6 })), 'ReLU', 'max_value', 'maxValue'],
      [() => new Softmax(loose({ axes: -1 })), 'Softmax', 'axes', 'axis'],
      [() => new Dropout(loose({ rate: 0.1, sed: 1 })), 'Dropout', 'sed', 'seed'],
      [() => new Flatten(loose({ nme: 'f' })), 'Flatten', 'nme', 'name'],
      [() => new MaxPooling2D(loose({ pool_size: 2 })), 'MaxPooling2D', 'pool_size', 'poolSize'],
      [
        () => new GlobalAveragePooling2D(loose({ keepdims: true })),
        'GlobalAveragePooling2D',
        'keepdims',
        'keepDims',
      ],
      [
        () => new BatchNormalization(loose({ epsilon: 1e-3, moment: 0.9 })),
        'BatchNormalization',
        'moment',
        'momentum',
      ],
      [() => new ZeroPadding2D(loose({ paddings: 1 })), 'ZeroPadding2D', 'paddings', 'padding'],
      [() => new Reshape(loose({ target_shape: [2] })), 'Reshape', 'target_shape', 'targetShape'],
      [() => new Sequential(loose({ layer: [] })), 'Sequential', 'layer', 'layers'],
      [() => new SGD(loose({ learning_rate: 0.1 })), 'SGD', 'learning_rate', 'learningRate'],
      [() => new Adam(loose({ beta_1: 0.8 })), 'Adam', 'beta_1', 'beta1'],
      [
        () =>
          exponentialDecay(
            loose({ initialLearningRate: 1, decaySteps: 1, decayRate: 0.5, stair_case: true }),
          ),
        'exponentialDecay',
        'stair_case',
        'staircase',
      ],
      [() => input(loose({ shape: [3], batch_size: 2 })), 'input', 'batch_size', 'batchSize'],
      [() => mobileNetV2(loose({ include_top: false })), 'mobileNetV2', 'include_top', 'includeTop'],
      [
        () => Dataset.from([1]).batch(1, loose({ drop_remainder: true })),
        'Dataset.batch',
        'drop_remainder',
        'dropRemainder',
      ],
      [
        () => Dataset.from([1]).shuffle(1, 1, loose({ reshuffle_each_iteration: false })),
        'Dataset.shuffle',
        'reshuffle_each_iteration',
        'reshuffleEachIteration',
      ],
      [
        () => Dataset.from([1]).map((v) => v, loose({ num_parallel_calls: 2 })),
        'Dataset.map',
        'num_parallel_calls',
        'parallel',
      ],
      [() => new DecodePool(loose({ timeout_ms: 5 })), 'DecodePool', 'timeout_ms', 'timeoutMs'],
      [
        () => writeFileAtomic('/tmp/x', new Uint8Array(1), loose({ chunk_bytes: 4 })),
        'writeFileAtomic',
        'chunk_bytes',
        'chunkBytes',
      ],
      [
        () => readSafetensorsFile('/tmp/x', loose({ max_header_bytes: 4 })),
        'readSafetensorsFile',
        'max_header_bytes',
        'maxHeaderBytes',
      ],
    ];
    for (const [run, where, key, meant] of cases) await rejects(run, where, key, meant);
    const i = input({ shape: [3] });
    const o = new Dense({ units: 2 }).apply(i);
    if (Array.isArray(o)) throw new Error('one output expected');
    await rejects(() => model(loose({ inputs: i, outputs: o, nam: 'm' })), 'model', 'nam', 'name');
  });

  it('every layer config from getConfig() is accepted back (no false rejections)', () => {
    const layers: Layer[] = [
      new Dense({ units: 2, activation: 'relu', useBias: false, seed: 3, inputShape: [4], batchSize: 2 }),
      new Conv2D({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', seed: 1 }),
      new DepthwiseConv2D({ kernelSize: 3, depthMultiplier: 2 }),
      new ReLU({ maxValue: 6 }),
      new Softmax({ axis: -1 }),
      new Dropout({ rate: 0.5, seed: 2 }),
      new MaxPooling2D({ poolSize: 2 }),
      new GlobalAveragePooling2D({ keepDims: true }),
      new BatchNormalization({ momentum: 0.9 }),
      new ZeroPadding2D({ padding: 1 }),
      new Reshape({ targetShape: [2, 2] }),
      new Flatten(),
    ];
    for (const l of layers) {
      const again = layerFromConfig({ className: l.className, config: l.getConfig() });
      expect(again.getConfig(), l.className).toEqual(l.getConfig());
    }
    const net = mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, includeTop: false });
    const copy = layerFromConfig({ className: net.className, config: net.getConfig() });
    expect(copy.getConfig()).toEqual(net.getConfig());
    net.dispose();
    copy.dispose();
  });
});
