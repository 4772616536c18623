import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset, memory, type Tensor, tensor } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-dscache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Dataset.cache(filename)', () => {
  it('writes the first complete pass to files and replays it, in this run and later ones', async () => {
    let reads = 0;
    const make = () =>
      Dataset.from([0, 1, 2])
        .map((i) => {
          reads++;
          return {
            xs: tensor([i, i + 0.5], [2]),
            ys: tensor([i], [1], 'int32'),
            mask: tensor([i % 2 === 0], [1]),
            id: `e${i}`,
          };
        })
        .cache(join(dir, 'c'));
    const collect = async (ds: Dataset<{ xs: Tensor; ys: Tensor; mask: Tensor; id: string }>) => {
      const out: unknown[] = [];
      for await (const e of ds) {
        out.push([
          Array.from(await e.xs.data()),
          Array.from(await e.ys.data()),
          e.mask.dtype,
          Array.from(await e.mask.data()),
          e.id,
        ]);
        for (const t of [e.xs, e.ys, e.mask]) t.dispose();
      }
      return out;
    };
    const before = memory().numTensors;
    const ds = make();
    // An interrupted first pass does not complete the cache.
    for await (const e of ds) {
      for (const t of [e.xs, e.ys, e.mask]) t.dispose();
      break;
    }
    expect(existsSync(join(dir, 'c.index.json'))).toBe(false);
    const first = await collect(ds);
    expect(reads).toBe(4);
    expect(existsSync(join(dir, 'c.index.json'))).toBe(true);
    const second = await collect(ds);
    const laterRun = await collect(make());
    expect(reads).toBe(4); // replayed from the files, upstream not read again
    expect(second).toEqual(first);
    expect(laterRun).toEqual(first);
    expect(first[2]).toEqual([[2, 2.5], [2], 'bool', [1], 'e2']);
    expect(memory().numTensors).toBe(before);
    expect(() => Dataset.from([1]).cache('')).toThrow(/filename/);
  });
});
