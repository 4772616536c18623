/**
 * `npx wgsl-nn tune`: times the candidate configurations of the tunable kernels (see
 * src/kernels/autotune.ts) at the shape classes of a standard workload (square and dense-layer
 * matmuls, MobileNetV2's batch-norm shapes and some of its convolutions at batch 16) and stores the winners for this
 * adapter under the user's cache folder, where every later process loads them.
 */

export interface TuneArgs {
  quick: boolean;
  reps: number;
  json: boolean;
}

const USAGE = 'usage: npx wgsl-nn tune [--quick] [--reps N] [--json]';

export function parseTuneArgs(argv: readonly string[]): TuneArgs | string {
  const out: TuneArgs = { quick: false, reps: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') out.quick = true;
    else if (a === '--json') out.json = true;
    else if (a === '--reps') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1)
        return `wgsl-nn tune: --reps needs a positive integer, got ${argv[i]}\n${USAGE}`;
      out.reps = n;
    } else return `wgsl-nn tune: unknown argument ${a}\n${USAGE}`;
  }
  return out;
}

/** [M, N, K] of the standard workload: squares, the dense net's layers, 1x1-conv-like products. */
const MATMULS: Array<[number, number, number]> = [
  [128, 128, 128],
  [1024, 1024, 1024],
  [16, 500, 4096],
  [2304, 64, 64],
];
/** [rows, channels] of MobileNetV2's training batch norms (batch 16, 192 px). */
const BATCHNORMS: Array<[number, number]> = [
  [16 * 96 * 96, 32],
  [16 * 48 * 48, 96],
  [16 * 24 * 24, 144],
  [16 * 12 * 12, 384],
  [16 * 6 * 6, 960],
];

/** MobileNetV2-like convolutions at batch 16: [x shape, kernel, cout or 0 for depthwise, stride]. */
const CONVS: Array<[number[], number, number, number]> = [
  [[16, 24, 24, 144], 1, 32, 1],
  [[16, 48, 48, 16], 1, 96, 1],
  [[16, 96, 96, 3], 3, 32, 2],
  [[16, 48, 48, 96], 3, 0, 1],
  [[16, 24, 24, 144], 3, 0, 2],
];

export async function tune(argv: readonly string[]): Promise<number> {
  const args = parseTuneArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n`);
    return 2;
  }
  const lib = await import('../node.js');
  const at = await import('../kernels/autotune.js');
  await lib.getDevice();
  const info = lib.deviceInfo();
  const log = (s: string) => {
    if (!args.json) process.stdout.write(`${s}\n`);
  };
  log(`adapter: ${info.vendor} ${info.architecture} ${info.description}`);
  // Note the classes of the workload (the ops run once with their defaults), then time them.
  at.setAutotune(true);
  lib.tidy(() => {
    for (const [m, n, k] of MATMULS) lib.matmul(lib.zeros([m, k]), lib.zeros([k, n]));
    for (const [r, c] of BATCHNORMS) lib.batchNorm(lib.zeros([r, c]), lib.zeros([c]), lib.ones([c]));
    for (const [xs, k, co, s] of CONVS) {
      const x = lib.zeros(xs);
      if (co > 0) lib.conv2d(x, lib.zeros([k, k, xs[3], co]), s, 'same');
      else lib.depthwiseConv2d(x, lib.zeros([k, k, xs[3], 1]), s, 'same');
    }
  });
  at.setAutotune(false);
  await lib.sync();
  const tasks = at.pendingTuneTasks();
  log(`${tasks.length} shape classes to time${args.quick ? ' (--quick: one subgroup per workgroup)' : ''}`);
  const t0 = performance.now();
  const results = await at.autotune({
    reps: args.reps,
    filter: (family, c) => !args.quick || family !== 'matmul' || (c as { s: number }).s === 1,
    onResult: (r) => {
      const best = Math.min(...Object.values(r.ms));
      log(
        `  ${r.key}: ${JSON.stringify(r.winner)} ${best.toFixed(2)} ms (${Object.keys(r.ms).length} candidates)`,
      );
    },
  });
  const where = at.tuneCacheLocation();
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ adapter: info, cache: where, results }, null, 1)}\n`);
  } else {
    log(
      `${results.length} winners in ${((performance.now() - t0) / 1000).toFixed(1)} s, written to ${where}`,
    );
  }
  return 0;
}
