import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above this file). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `../shared/...` beside the repository, where the lab's photos and weights live by default. */
export function sharedPath(...parts: string[]): string {
  return join(repoRoot, '..', 'shared', ...parts);
}

export function defaultDataDir(): string {
  return process.env.WGSL_NN_DATA_DIR ?? sharedPath('data', 'flower_photos');
}

export function defaultWeightsDir(): string {
  return process.env.WGSL_NN_WEIGHTS_DIR ?? sharedPath('weights', 'mobilenet_v2');
}

export function requireFile(path: string, what: string, hint: string): string {
  if (!existsSync(path)) {
    console.error(`error: ${what} not found at ${path}. ${hint}`);
    process.exit(2);
  }
  return path;
}
