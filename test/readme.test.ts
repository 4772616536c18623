import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The first ```ts block after the "## A first program" heading of README.md. */
function readmeExample(): string {
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const section = md.slice(md.indexOf('## A first program'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md has no ```ts example under "## A first program"');
  return m[1];
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-5 + 1e-5 * Math.abs(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => close(v, b[i]));
  return a === b;
}

describe('README', () => {
  it('runs the example and prints what its comments say', async () => {
    const code = readmeExample();
    const expected = [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => m[1]);
    expect(expected.length).toBeGreaterThan(0);
    const dir = join(root, 'test', '.tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `readme-example-${process.pid}.ts`);
    writeFileSync(file, code.replaceAll("from 'wgsl-nn'", `from '${join(root, 'src', 'index.js')}'`));
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(args.map((a) => JSON.stringify(a)).join(' '));
    });
    try {
      await import(file);
    } finally {
      spy.mockRestore();
      rmSync(file, { force: true });
    }
    expect(printed.length).toBe(expected.length);
    printed.forEach((p, i) => {
      expect(
        close(JSON.parse(p), JSON.parse(expected[i])),
        `line ${i}: printed ${p}, README says ${expected[i]}`,
      ).toBe(true);
    });
  });
});
