/**
 * Small helpers the layers share: copying fields into a config, and the useBias / initializer / seed
 * arguments of the layers that own a kernel and a bias.
 */
import { assertInitializer, type InitializerName } from '../initializers.js';
import { checkBool, checkSeed } from '../layer.js';

/**
 * The fields of `layer` named by `keys`, in that order, as a plain object (for `getConfig`).
 *
 * @param layer the layer (or any object) to read.
 * @param keys the names of the fields to copy.
 * @returns a new object with those fields.
 */
export function pickConfig<T extends object>(
  layer: T,
  keys: readonly (keyof T & string)[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = layer[k];
  return out;
}

/** The useBias / initializer / seed arguments of a layer with a kernel and a bias. */
export interface KernelBiasArgs {
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
  seed?: number;
}

/**
 * Checks and defaults the useBias / initializer / seed arguments (useBias true, glorotUniform
 * kernels, zero biases), throwing the layers' usual errors for bad values.
 *
 * @param args the layer's arguments.
 * @param who the layer, for error messages.
 * @returns the checked values with their defaults filled in.
 */
export function kernelBiasArgs(
  args: KernelBiasArgs,
  who: string,
): Required<Omit<KernelBiasArgs, 'seed'>> & Pick<KernelBiasArgs, 'seed'> {
  checkBool(args.useBias, 'useBias', who);
  checkSeed(args.seed, who);
  const kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
  const biasInitializer = args.biasInitializer ?? 'zeros';
  assertInitializer(kernelInitializer, `${who}: kernelInitializer`);
  assertInitializer(biasInitializer, `${who}: biasInitializer`);
  return { useBias: args.useBias ?? true, kernelInitializer, biasInitializer, seed: args.seed };
}

/**
 * Checks and defaults the `center` / `scale` flags of a normalization layer (both true by default).
 *
 * @param args the layer's arguments.
 * @param who the layer, for error messages.
 * @returns the checked flags.
 */
export function centerScaleArgs(
  args: { center?: boolean; scale?: boolean },
  who: string,
): {
  center: boolean;
  scale: boolean;
} {
  checkBool(args.center, 'center', who);
  checkBool(args.scale, 'scale', who);
  return { center: args.center ?? true, scale: args.scale ?? true };
}
