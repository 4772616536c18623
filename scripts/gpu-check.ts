/**
 * `npm run gpu-check [-- --short] [--out FILE]`: the one script to run on a new adapter (a real GPU,
 * or lavapipe in CI). It runs every kernel family against its float64 CPU oracle (test/oracle) at
 * shapes that cross the tiling edges (sizes of 1, off every 4/8/16/32 grid, long reductions), with
 * each family's tiled and portable variants where it has both; the f16 paths (matmul, conv2d,
 * depthwiseConv2d) where the adapter has `shader-f16`; then, without --short, the default bench
 * (bench/run.ts, in a child process). It
 * writes one JSON report (default bench/results/gpu-check.json, git-ignored) and exits 1 when any
 * check misses its tolerance (2 when the bench fails), 0 otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTuning } from '../src/kernels/tuning.js';
import * as lib from '../src/node.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { checksF16, checksInvertedResidual, checksMatmul } from './gpu-check-cases.js';
import { checksFolded } from './gpu-check-fold.js';
import { type Check, type CheckResult, runCheck } from './gpu-check-lib.js';
import { checksOthers } from './gpu-check-ops.js';
import { checksTraining } from './gpu-check-training.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv: string[]): { short: boolean; out: string } {
  const a = { short: false, out: join(root, 'bench', 'results', 'gpu-check.json') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--short') a.short = true;
    else if (argv[i] === '--out') a.out = argv[++i];
    else {
      console.error(`gpu-check: unknown argument ${argv[i]} (use --short, --out FILE)`);
      process.exit(2);
    }
  }
  return a;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  await lib.getDevice();
  const info = lib.deviceInfo();
  const facts = deviceFacts();
  console.log(`gpu-check on ${info.vendor} ${info.architecture} ${info.description}`);
  console.log(
    `  class ${facts.adapterClass}, subgroups ${facts.subgroupMinSize}-${facts.subgroupMaxSize} (tiles for ${facts.fixedSubgroupLanes || 'none: portable kernels'}), shader-f16 ${facts.hasF16}`,
  );
  const checks: Check[] = [
    ...checksMatmul(),
    ...checksOthers(),
    ...checksFolded(),
    ...checksInvertedResidual(),
    ...checksTraining(),
  ];
  // The same families again on their portable kernels (no subgroup operations), where the adapter
  // runs the subgroup ones by default.
  const portable = facts.fixedSubgroupLanes > 0;
  const results: CheckResult[] = [];
  const run = async (c: Check, variant: string) => {
    const r = await runCheck(c, variant);
    results.push(r);
    if (!r.ok)
      console.log(
        `  FAIL ${r.family} ${r.name} [${variant}]: ${r.error ?? `error ${r.worst.toFixed(2)}x tolerance`}`,
      );
  };
  for (const c of checks) await run(c, 'default');
  if (portable) {
    for (const c of checks.filter((c) => c.family === 'matmul' || c.family.startsWith('conv')))
      await withTuning({ matmulPortable: true, convPortable: true }, () => run(c, 'portable'));
    // The weight-stationary convs and matmul ('auto' takes them on software adapters only).
    for (const c of checks.filter((c) => c.family.startsWith('conv2d')))
      await withTuning({ convWeightStationary: 'on' }, () => run(c, 'weight-stationary'));
    for (const c of checks.filter((c) => c.family === 'matmul'))
      await withTuning({ matmulWeightStationary: 'on' }, () => run(c, 'weight-stationary'));
  }
  if (facts.hasF16) for (const c of checksF16()) await run(c, 'f16');
  const failed = results.filter((r) => !r.ok);
  const checkMs = performance.now() - t0;
  console.log(
    `${results.length} checks, ${failed.length} failed, ${(checkMs / 1000).toFixed(1)} s (families: ${[...new Set(results.map((r) => r.family))].join(', ')})`,
  );
  const leaked = lib.memory().numTensors;
  if (leaked) console.log(`  ${leaked} tensors left alive after the checks`);

  let bench: { ran: boolean; status?: number; seconds?: number; results?: string } = { ran: false };
  if (!args.short) {
    console.log('default bench (bench/run.ts) ...');
    const b0 = performance.now();
    const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const r = spawnSync(process.execPath, [tsx, join(root, 'bench', 'run.ts')], {
      cwd: root,
      stdio: 'inherit',
    });
    bench = {
      ran: true,
      status: r.status ?? -1,
      seconds: (performance.now() - b0) / 1000,
      results: join(root, 'bench', 'results', 'latest.json'),
    };
  }
  const report = {
    date: new Date().toISOString(),
    adapter: { vendor: info.vendor, architecture: info.architecture, description: info.description },
    facts,
    features: info.features,
    ok: failed.length === 0 && leaked === 0 && (!bench.ran || bench.status === 0),
    checks: results,
    failed: failed.map((r) => `${r.family} ${r.name} [${r.variant}]`),
    leakedTensors: leaked,
    checkSeconds: checkMs / 1000,
    bench,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  const tmp = `${args.out}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(report, null, 1)}\n`);
  const { renameSync } = await import('node:fs');
  renameSync(tmp, args.out);
  console.log(`report: ${args.out}`);
  if (failed.length || leaked) return 1;
  return bench.ran && bench.status !== 0 ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`gpu-check: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
