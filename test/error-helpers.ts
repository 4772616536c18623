import { expect, it } from 'vitest';

/** An error class of the library (WgslNnError subclasses, WeightsFormatError, ImageDecodeError). */
export type ErrorClass = abstract new (message: string) => Error;

/**
 * One bad call: `run` must throw (or reject with) an instance of `type` whose message contains
 * `names` (the function or class name) and matches every pattern in `says` (the argument, what
 * was expected and what was given).
 */
export interface BadCall {
  names: string;
  /** The export this call audits, when the message names another function (default: names). */
  exportName?: string;
  label: string;
  run: () => unknown;
  type: ErrorClass;
  says: Array<string | RegExp>;
}

export async function expectBadCall(c: BadCall): Promise<void> {
  let err: unknown;
  try {
    await c.run();
  } catch (e) {
    err = e;
  }
  expect(err, `${c.names}: ${c.label} did not throw`).toBeDefined();
  expect(err, `${c.names}: ${c.label} threw ${String(err)}`).toBeInstanceOf(c.type);
  const msg = (err as Error).message;
  expect(msg, 'the message names the function').toContain(c.names);
  for (const s of c.says) {
    if (typeof s === 'string') expect(msg).toContain(s);
    else expect(msg).toMatch(s);
  }
}

/** Registers one test per bad call. */
export function badCalls(list: readonly BadCall[]): void {
  for (const c of list) it(`${c.names}: ${c.label}`, () => expectBadCall(c));
}

/** Shorthand for a BadCall. */
export function bad(
  names: string,
  label: string,
  run: () => unknown,
  type: ErrorClass,
  ...says: Array<string | RegExp>
): BadCall {
  return { names, label, run, type, says };
}
