import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// scripts/device-check.sh is what `npm run device-bundle` copies to .devbundle/run.sh, run on a GPU
// machine without Node.js; bench/README.md ("The GPU check") has the run that exercised it whole.
const script = join(import.meta.dirname, '..', 'scripts', 'device-check.sh');
let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** A repository root with `.devbundle/run.sh` and the given bundle files (empty). */
function bundleWith(files: string[]): string {
  dir = mkdtempSync(join(tmpdir(), 'device-check-'));
  mkdirSync(join(dir, '.devbundle', 'node_modules', 'webgpu'), { recursive: true });
  copyFileSync(script, join(dir, '.devbundle', 'run.sh'));
  for (const f of files) writeFileSync(join(dir, '.devbundle', f), '');
  return dir;
}

const run = (root: string) =>
  spawnSync('bash', ['.devbundle/run.sh', 'check'], {
    cwd: root,
    env: { ...process.env, OUT: join(root, 'out'), TMPDIR: root },
    encoding: 'utf8',
  });

describe('device-check.sh', () => {
  it('is valid bash', () => {
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
  });

  it('exits 4 naming the missing bundle file', () => {
    const r = run(bundleWith(['node.xz', 'gpu-check.mjs.xz']));
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('bench.mjs.xz is missing: rebuild with npm run device-bundle');
  });

  it('exits 4 when a file does not unpack', () => {
    const r = run(
      bundleWith(['node.xz', 'gpu-check.mjs.xz', 'bench.mjs.xz', 'node_modules/webgpu/index.js']),
    );
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('could not unpack');
    expect(r.stderr).toContain('node.xz');
  });
});
