import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

// Runs every ```ts example of the guides in docs/*.md (as test/readme.test.ts does for the README) and
// checks each `// prints: ...` comment against what console.log printed: the same string, or the
// same JSON value (numbers within 1e-5). `\n` in a comment stands for a line break.

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const docs = join(root, 'docs');
const guides = readdirSync(docs).filter((f) => f.endsWith('.md'));

function examples(file: string): string[] {
  const md = readFileSync(join(docs, file), 'utf8');
  return [...md.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-5 + 1e-5 * Math.abs(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => close(v, b[i]));
  return a === b;
}

function matches(printed: string, expected: string): boolean {
  if (printed === expected) return true;
  try {
    return close(JSON.parse(printed), JSON.parse(expected));
  } catch {
    return false;
  }
}

const cases = guides.flatMap((g) => examples(g).map((code, i) => [`${g} example ${i + 1}`, code] as const));

describe('guides', () => {
  it('exist, and have examples', () => {
    expect(guides.sort()).toEqual([
      'coming-from-keras.md',
      'coming-from-tensorflow-js.md',
      'shipping-to-the-browser.md',
      'training-without-a-gpu.md',
    ]);
    for (const g of guides) expect(examples(g).length, g).toBeGreaterThan(0);
  });

  it.each(cases)(
    '%s runs and prints what its comments say',
    async (name, code) => {
      const expected = [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => m[1].replaceAll('\\n', '\n'));
      expect(expected.length, `${name} has no // prints: line`).toBeGreaterThan(0);
      const dir = join(root, 'test', '.tmp');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `guide-${name.replace(/\W+/g, '-')}-${process.pid}.ts`);
      writeFileSync(file, code.replaceAll("from 'wgsl-nn'", `from '${join(root, 'src', 'node.js')}'`));
      const printed: string[] = [];
      const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        printed.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      });
      try {
        await import(file);
      } finally {
        spy.mockRestore();
        rmSync(file, { force: true });
      }
      expect(printed.length, `${name} printed ${JSON.stringify(printed)}`).toBe(expected.length);
      printed.forEach((p, i) => {
        expect(
          matches(p, expected[i]),
          `${name}, line ${i}: printed ${p}, the guide says ${expected[i]}`,
        ).toBe(true);
      });
    },
    120_000,
  );
});
