import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FirstResult, FirstResultArgs } from './first-result.js';
import { fmt, markdownTable, median } from './harness.js';

/**
 * Time to first result (`--filter startup`, also in the default run): fresh Node processes, one per
 * library and task, each timing from just before importing the library to the first MobileNetV2
 * prediction or the first matmul result read back (bench/first-result.ts). Our library is bundled
 * first with esbuild (as a package would ship it: one ES module, dependencies left to node_modules),
 * so its import is not a TypeScript compile; the child is bundled too and runs under plain `node`.
 * The runs of the two libraries alternate; medians per phase are reported.
 */

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'results', '.startup');

export const FIRST_PHASES = [
  'import',
  'device',
  'inputs',
  'compile',
  'execute',
  'first',
  'total',
  'second',
] as const;

export interface StartupRow {
  lib: 'ours' | 'tfjs';
  task: FirstResultArgs['task'];
  what: string;
  runs: number;
  /** Median ms per phase over the runs. */
  ms: Record<string, number>;
  pipelines: number;
  /** Median wall time of the whole child process (spawn to exit), ms. */
  processMs: number;
  samples: FirstResult[];
}

async function bundle(): Promise<{ lib: string; child: string }> {
  const { build } = await import('esbuild');
  mkdirSync(outDir, { recursive: true });
  const common = {
    bundle: true,
    format: 'esm' as const,
    platform: 'node' as const,
    target: 'node20',
    packages: 'external' as const,
    logLevel: 'silent' as const,
  };
  const lib = join(outDir, 'wgsl-nn.mjs');
  const child = join(outDir, 'first-result.mjs');
  await build({
    ...common,
    stdin: {
      contents: "export * from './src/node.ts'; export { queueStats } from './src/tensor/queue.ts';",
      resolveDir: join(here, '..'),
      loader: 'ts',
    },
    outfile: lib,
  });
  await build({ ...common, entryPoints: [join(here, 'first-result.ts')], outfile: child });
  return { lib, child };
}

function runChild(child: string, args: FirstResultArgs): Promise<{ result: FirstResult; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [child, JSON.stringify(args)], { env: process.env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', reject);
    p.on('close', (code) => {
      const wallMs = performance.now() - t0;
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(
          new Error(
            `first-result ${args.lib} ${args.task} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
        return;
      }
      resolve({ result: JSON.parse(line) as FirstResult, wallMs });
    });
  });
}

/**
 * `runs` fresh processes per library and task (the libraries alternating, which goes first
 * alternating too). The caller must have set LP_NUM_THREADS (both children inherit it).
 */
export async function measureStartup(
  weightsPath: string,
  runs: number,
  opts: { matmulSize?: number; imageSize?: number; mobilenet?: boolean } = {},
): Promise<StartupRow[]> {
  const { lib, child } = await bundle();
  const matmulSize = opts.matmulSize ?? 1024;
  const imageSize = opts.imageSize ?? 192;
  const tasks: Array<FirstResultArgs['task']> =
    opts.mobilenet === false ? ['matmul', 'dense'] : ['matmul', 'mobilenet', 'train', 'dense'];
  // TF.js runs the tasks both libraries have (the training tasks are ours only).
  const libsOf = (task: FirstResultArgs['task'], r: number): Array<FirstResultArgs['lib']> =>
    task === 'train' || task === 'dense' ? ['ours'] : r % 2 === 0 ? ['ours', 'tfjs'] : ['tfjs', 'ours'];
  const got = new Map<string, Array<{ result: FirstResult; wallMs: number }>>();
  for (let r = 0; r < runs; r++) {
    for (const task of tasks) {
      for (const l of libsOf(task, r)) {
        const res = await runChild(child, { lib: l, task, libPath: lib, weightsPath, matmulSize, imageSize });
        const key = `${l} ${task}`;
        got.set(key, [...(got.get(key) ?? []), res]);
      }
    }
  }
  const rows: StartupRow[] = [];
  for (const task of tasks) {
    for (const l of libsOf(task, 0)) {
      const all = got.get(`${l} ${task}`) ?? [];
      const ms: Record<string, number> = {};
      for (const p of FIRST_PHASES) ms[p] = median(all.map((a) => a.result.ms[p]));
      rows.push({
        lib: l,
        task,
        what: {
          matmul: `matmul [${matmulSize},${matmulSize}]@[${matmulSize},${matmulSize}]`,
          mobilenet: `MobileNetV2 predict [1,${imageSize},${imageSize},3]`,
          train: `MobileNetV2 (all trainable) + head: first fit step, batch 16, ${imageSize}px`,
          dense: `dense net ${imageSize}x${imageSize}x3 -> 500 -> 50 -> 5 (55M weights): build, first fit step, batch 16`,
        }[task],
        runs: all.length,
        ms,
        pipelines: median(all.map((a) => a.result.pipelines)),
        processMs: median(all.map((a) => a.wallMs)),
        samples: all.map((a) => a.result),
      });
    }
  }
  return rows;
}

export function startupTable(rows: readonly StartupRow[]): string {
  const header = [
    'first result',
    'library',
    'import',
    'device',
    'inputs/model',
    'compile (pipelines)',
    'execute',
    'first result',
    'import→result',
    'warm run',
    'process',
  ];
  const body = rows.map((r) => [
    r.what,
    r.lib === 'ours' ? 'ours' : 'TF.js',
    fmt(r.ms.import, 1),
    fmt(r.ms.device, 1),
    fmt(r.ms.inputs, 1),
    `${fmt(r.ms.compile, 1)} (${r.pipelines})`,
    fmt(r.ms.execute, 1),
    fmt(r.ms.first, 1),
    fmt(r.ms.total, 1),
    fmt(r.ms.second, 1),
    fmt(r.processMs, 0),
  ]);
  return markdownTable(header, body, [0, 1]);
}
