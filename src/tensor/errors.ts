/**
 * Typed errors. Every message names the argument, what was expected and what was given,
 * so a user can fix the call without reading our source.
 */
export class WgslNnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor has the wrong shape or rank, or shapes do not agree (broadcast, matmul, concat...). */
export class ShapeError extends WgslNnError {}
/** A tensor has a dtype the op does not accept, or two dtypes do not match. */
export class DTypeError extends WgslNnError {}
/** A tensor was used after `dispose()`. */
export class DisposedTensorError extends WgslNnError {}
/** No adapter, device lost, out of GPU memory, or a limit of the adapter exceeded. */
export class DeviceError extends WgslNnError {}
/** An option or argument value is out of range or of the wrong kind. */
export class ArgumentError extends WgslNnError {}

/** Formats a shape as Keras/TF do: `[2,3]`, `[]` for a scalar. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
