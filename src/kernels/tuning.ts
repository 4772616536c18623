import { deviceFacts } from '../tensor/device-info.js';
import { ArgumentError } from '../tensor/errors.js';

/**
 * Every tuning switch of the kernels, in one place. Defaults follow the device (see
 * src/tensor/device-info.ts); tests and tuning scripts override them with `withTuning` (or
 * `setTuning`). Kernels read `tuning()` and the helpers below; none probes the adapter itself.
 */

/** Tile of the matmul kernel (see matmul-variants.ts). */
export interface MatmulTileOverride {
  mr?: number;
  s?: number;
  sg?: number;
  rowsX?: boolean;
}

export interface Tuning {
  /** Matmul without subgroup operations even where the adapter has them. */
  matmulPortable: boolean;
  /** Overrides fields of the matmul tile choice. */
  matmulTile: MatmulTileOverride | undefined;
  /**
   * Matmuls without transposes (vec4 operands, K divisible by a chunk of 32-128, cheap
   * activations): the weight-stationary kernel (src/kernels/matmul-ws.ts); 'auto' takes it on
   * software adapters with a fixed subgroup size for M >= 128.
   */
  matmulWeightStationary: 'auto' | 'on' | 'off';
  /** Elements of A or B per matmul window (splits larger problems); undefined: the binding limit. */
  matmulWindowLimit: number | undefined;
  /** Convolutions without subgroup operations. */
  convPortable: boolean;
  /** Output pixels per subgroup and subgroups per workgroup of the implicit-GEMM conv. */
  convTile: { rows: number; groups: number } | undefined;
  /**
   * Pointwise convs with Cin <= 144 and windowed convs of at most 144 taps (kh x kw x Cin): the
   * weight-stationary kernels (src/kernels/conv-pointwise.ts, conv-window-ws.ts); 'auto' takes them
   * on software adapters with a fixed subgroup size (the windowed one on lavapipe only), where they
   * measured 1.1-2.4x faster than the tile kernel.
   */
  convWeightStationary: 'auto' | 'on' | 'off';
  /**
   * Pixels and rows per lane strip of the depthwise kernel, and optionally the images each lane
   * walks (default on lavapipe: up to 8 when a strip is a whole column; 1 elsewhere).
   */
  depthwiseStrip: { px: number; rows: number; imgs?: number } | undefined;
  /** Rows per workgroup of the batch-norm statistics pass. */
  batchNormRows: number | undefined;
  /** Elements per optimizer-update dispatch (undefined: the binding limit). */
  updateChunkLimit: number | undefined;
  /** Reductions and softmax: kernels tuned for CPU or GPU adapters, or by the adapter ('auto'). */
  kernelPolicy: 'auto' | 'gpu' | 'cpu';
  /** Copies (transpose, slices): the CPU- or GPU-adapter paths, or by the adapter ('auto'). */
  copyStrategy: 'auto' | 'gpu' | 'cpu';
  /**
   * Functional models in inference: run each stride-1 MobileNetV2 inverted-residual block as one
   * fused dispatch (src/kernels/inverted-residual.ts). 'auto' is off: on lavapipe the fused
   * kernel measured slower than the three convs (bench/README.md), and no GPU adapter has been
   * measured yet.
   */
  fusedInvertedResidual: 'auto' | 'on' | 'off';
  /**
   * Independent partial sums per accumulator in the weight-stationary pointwise conv (an integer
   * 1-8; undefined: by quads per lane and Cin, see `partialSums` in src/kernels/ws-codegen.ts).
   */
  wsPartialSums: number | undefined;
}

const DEFAULTS: Tuning = {
  matmulPortable: false,
  matmulTile: undefined,
  matmulWeightStationary: 'auto',
  matmulWindowLimit: undefined,
  convPortable: false,
  convTile: undefined,
  convWeightStationary: 'auto',
  depthwiseStrip: undefined,
  batchNormRows: undefined,
  updateChunkLimit: undefined,
  kernelPolicy: 'auto',
  copyStrategy: 'auto',
  fusedInvertedResidual: 'auto',
  wsPartialSums: undefined,
};

let current: Tuning = { ...DEFAULTS };

/** The switches in force. */
export function tuning(): Readonly<Tuning> {
  return current;
}

function checkKeys(overrides: Partial<Tuning>, fn: string): void {
  if (typeof overrides !== 'object' || overrides === null)
    throw new ArgumentError(`${fn}: overrides must be an object, got ${String(overrides)}`);
  for (const k of Object.keys(overrides)) {
    if (!(k in DEFAULTS)) {
      throw new ArgumentError(
        `${fn}: unknown tuning switch '${k}' (known: ${Object.keys(DEFAULTS).join(', ')})`,
      );
    }
  }
}

function checkValues(overrides: Partial<Tuning>, fn: string): void {
  const ps = overrides.wsPartialSums;
  if (ps !== undefined && !(Number.isInteger(ps) && ps >= 1 && ps <= 8))
    throw new ArgumentError(`${fn}: wsPartialSums must be an integer from 1 to 8, got ${String(ps)}`);
}

/** Sets switches (an undefined value restores that switch's default); `setTuning()` restores all. */
export function setTuning(overrides?: Partial<Tuning>): void {
  if (overrides === undefined) {
    current = { ...DEFAULTS };
    return;
  }
  checkKeys(overrides, 'setTuning');
  checkValues(overrides, 'setTuning');
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(overrides)) next[k] = v === undefined ? DEFAULTS[k as keyof Tuning] : v;
  current = next as unknown as Tuning;
}

/**
 * Runs `fn` with some switches overridden and restores the previous ones afterwards (after the
 * promise settles when `fn` is async).
 */
export function withTuning<T>(overrides: Partial<Tuning>, fn: () => T): T {
  checkKeys(overrides, 'withTuning');
  checkValues(overrides, 'withTuning');
  const saved = current;
  setTuning(overrides);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    current = saved;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      current = saved;
    }) as T;
  }
  current = saved;
  return result;
}

/** Lanes per subgroup that the tiled `family` kernels may use here (0: the portable kernels). */
export function subgroupLanes(family: 'matmul' | 'conv'): number {
  const off = family === 'matmul' ? current.matmulPortable : current.convPortable;
  return off ? 0 : deviceFacts().fixedSubgroupLanes;
}

/**
 * Whether the weight-stationary kernels that 'auto' takes on lavapipe only (the windowed conv and
 * the fused strip kernels) run: the `convWeightStationary` switch, 'auto' meaning lavapipe.
 */
export function lavapipeWeightStationary(): boolean {
  const mode = current.convWeightStationary;
  return mode === 'on' || (mode === 'auto' && deviceFacts().lavapipe);
}

/** True when `family` should take its CPU-adapter kernels (by the switch, else by the adapter). */
export function cpuTuned(family: 'reduce' | 'copy'): boolean {
  const s = family === 'reduce' ? current.kernelPolicy : current.copyStrategy;
  return s === 'auto' ? deviceFacts().adapterClass === 'software' : s === 'cpu';
}

/** True when functional models should run inverted-residual blocks fused (see the switch). */
export function fusedInvertedResidualOn(): boolean {
  return current.fusedInvertedResidual === 'on';
}

/** The modes of `setWeightStationary`. */
export type WeightStationaryMode = 'auto' | 'on' | 'off';

/**
 * The weight-stationary kernels (src/kernels/conv-pointwise.ts for pointwise convolutions with up
 * to 144 input channels, conv-window-ws.ts for convolutions of at most 144 taps such as an image
 * network's stem, matmul-ws.ts for matmuls without transposes, and the two that graph fusion uses
 * in inference: dw-project.ts for a depthwise conv of at most 4 x lanes channels followed by a 1x1
 * conv, expand-dw.ts for a 1x1 conv from at most 24 channels followed by a depthwise conv): 'auto'
 * (the default) takes them on software adapters with a fixed subgroup size (the windowed and the
 * two fused ones on lavapipe only), where they
 * measured about 2x faster than the tile kernels; 'on' also where the adapter is a GPU with a
 * fixed subgroup size; 'off' keeps the tile kernels (their compile time is 0.5-3 s a kernel,
 * once per machine with Mesa's shader disk cache).
 *
 * @example
 * ```ts
 * setWeightStationary('off'); // tile kernels only
 * ```
 */
export function setWeightStationary(mode: WeightStationaryMode): void {
  if (mode !== 'auto' && mode !== 'on' && mode !== 'off')
    throw new ArgumentError(
      `setWeightStationary: mode must be 'auto', 'on' or 'off', got ${JSON.stringify(mode)}`,
    );
  setTuning({ convWeightStationary: mode, matmulWeightStationary: mode });
}
