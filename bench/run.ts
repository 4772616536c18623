import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceInfo, getDevice, memory, sync, type Tensor, tensor, tidy } from '../src/index.js';
import { TRANSFORMER_CASES } from './attention-cases.js';
import { type BenchCase, CASES, SCALING_CASES } from './cases.js';
import { type DecodeRow, decodeTable, measureDecode } from './decode.js';
import { fmt, maxAbs, maxAbsDiff, measure, measureSides, type Side } from './harness.js';
import {
  backbonePath,
  INFERENCE_CASES,
  ortOptions,
  SCALING_INFERENCE_CASES,
  type SessionCase,
} from './model-cases.js';
import { OPTIMIZER_CASES } from './optimizer-cases.js';
import {
  assertSameAdapter,
  captureGpuErrors,
  installSharedGpu,
  type Peer,
  peerTensors,
  setupPeer,
  type TfTensor,
} from './peer-tfjs.js';
import { type AnyCase, makeRow, memoryTable, otherPeers, type Row, rate, table } from './report.js';
import { measureStartup, type StartupRow, startupTable } from './startup.js';
import { TRAIN_CASES } from './train-cases.js';

/**
 * `npm run bench [-- --filter matmul,add] [--reps N] [--warmup N] [--budget S] [--no-js] [--list]
 * [--all] [--startup-runs N]`
 * Times each case on our kernels, on TF.js WebGPU (same process, same Dawn GPU and adapter) and,
 * for matmul, in plain JS; prints a Markdown table and writes bench/results/latest.json. Op cases
 * are in cases.ts, MobileNetV2 inference in model-cases.ts, training steps in train-cases.ts, time
 * to first result (child processes) in startup.ts, JPEG decoding (CPU) in decode.ts. The scaling series (groups scaling-*) are
 * opt-in: `--filter scaling` or `--all`.
 */

const ALL: AnyCase[] = [
  ...CASES,
  ...INFERENCE_CASES,
  ...TRAIN_CASES,
  ...OPTIMIZER_CASES,
  ...TRANSFORMER_CASES,
  ...SCALING_CASES,
  ...SCALING_INFERENCE_CASES,
];
const OPT_IN = 'scaling';
const isSession = (c: AnyCase): c is SessionCase => 'setup' in c;

interface Args {
  filters: string[];
  reps: number;
  warmup: number;
  /** Seconds per side and case for the timed repetitions (0: always `reps`). */
  budget: number;
  js: boolean;
  list: boolean;
  /** Also the opt-in scaling series. */
  all: boolean;
  /** Child processes per library and task for the time to first result. */
  startupRuns: number;
  /** ONNX Runtime peers on the MobileNetV2 cases (all, or all but its WebGPU EP). */
  ort: boolean;
  ortWebgpu: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    filters: [],
    reps: 10,
    warmup: 2,
    budget: 20,
    js: true,
    list: false,
    all: false,
    startupRuns: 3,
    ort: true,
    ortWebgpu: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s) : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`bench: ${flag} needs a value`);
      return v;
    };
    const count = (min: number) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min)
        throw new Error(`bench: ${flag} must be an integer >= ${min}, got ${v}`);
      return n;
    };
    if (flag === '--filter') args.filters.push(...value().split(',').filter(Boolean));
    else if (flag === '--reps') args.reps = count(1);
    else if (flag === '--warmup') args.warmup = count(0);
    else if (flag === '--budget') args.budget = count(0);
    else if (flag === '--no-js') args.js = false;
    else if (flag === '--list') args.list = true;
    else if (flag === '--all') args.all = true;
    else if (flag === '--startup-runs') args.startupRuns = count(1);
    else if (flag === '--no-ort') args.ort = false;
    else if (flag === '--no-ort-webgpu') args.ortWebgpu = false;
    else
      throw new Error(
        `bench: unknown argument ${a} (use --filter, --reps, --warmup, --budget, --no-js, --list, --all, --startup-runs, --no-ort, --no-ort-webgpu)`,
      );
  }
  return args;
}

const label = (c: AnyCase) => `${c.op} ${c.shape}`;
/** Filters match the group (e.g. 'conv', 'mobilenet', 'train') or the label. */
const tagged = (c: AnyCase) => `${c.group} | ${label(c)}`;

/**
 * Default cases: all, or those a filter matches. Opt-in (scaling) cases: only with `--all` or a
 * filter that starts with 'scaling' and matches (`scaling`, `scaling-matmul`, `scaling-mobilenet`).
 */
function selected(c: AnyCase, args: Args): boolean {
  if (args.all) return true;
  const match = (f: string) => tagged(c).toLowerCase().includes(f.toLowerCase());
  if (c.optIn) return args.filters.some((f) => f.toLowerCase().startsWith(OPT_IN) && match(f));
  return args.filters.length === 0 || args.filters.some(match);
}

/** The time to first result: in the default run, with `--all`, or `--filter startup`. */
const STARTUP =
  'startup | time to first result (child processes): matmul 1024, MobileNetV2 predict, first training steps (MobileNetV2, dense net)';
const startupSelected = (args: Args) =>
  args.all || args.filters.length === 0 || args.filters.some((f) => f.toLowerCase() === 'startup');
/** JPEG decode speed: in the default run, with `--all`, or `--filter decode`. */
const DECODE = 'decode | JPEG decode images/s, 224x224 and 1024x768: jpeg-js, ours, peers';
const decodeSelected = (args: Args) =>
  args.all || args.filters.length === 0 || args.filters.some((f) => f.toLowerCase() === 'decode');

const options = (args: Args, warmup = args.warmup, minReps?: number) => ({
  warmup,
  reps: args.reps,
  budgetMs: args.budget * 1000,
  minReps,
});

/** A whole-model case: set up both sides, check them against each other, then time them. */
async function runSession(c: SessionCase, peer: Peer, args: Args, ours: GPUDevice): Promise<Row | string> {
  const s = await c.setup(peer);
  if ('skip' in s) return s.skip;
  try {
    const check = await captureGpuErrors([ours, peer.device], () => s.check());
    const others = s.others ?? [];
    const checks = [check];
    for (const o of others) checks.push(await o.check());
    const [a, b, ...rest] = await measureSides(
      [s.ours, s.peer, ...others.map((o) => o.side)],
      options(args, c.warmup, c.minReps),
    );
    const text = checks.map((k) => k.text).join('; ');
    const row = makeRow(
      c,
      a,
      b,
      text,
      checks.every((k) => k.ok),
    );
    others.forEach((o, k) => {
      row.peers[o.name] = { rate: rate(c, rest[k].median), ratio: rest[k].median / a.median };
    });
    if (s.extra) row.extra = await s.extra();
    return row;
  } finally {
    s.dispose();
  }
}

async function runCase(c: BenchCase, peer: Peer, args: Args, device: GPUDevice): Promise<Row> {
  const { tf } = peer;
  const data = c.inputs();
  const oursIn = data.map((d) => tensor(d.data, d.shape));
  const peerIn = data.map((d) => tf.tensor(d.data, d.shape, 'float32'));
  const opts = options(args, c.warmup);
  try {
    // Correctness first: the same inputs on every side, outputs compared with TF.js's.
    const ref = await captureGpuErrors([device, peer.device], async () => {
      const py = tf.tidy(() => c.peer(tf, peerIn));
      const out = (await py.data()) as Float32Array;
      py.dispose();
      return out;
    });
    const tol = c.atol + c.rtol * maxAbs(ref);
    const checks: string[] = [];
    let checkOk = true;
    const compare = (who: string, out: ArrayLike<number>) => {
      const d = maxAbsDiff(out, ref);
      checkOk &&= d <= tol;
      checks.push(`${who} ${d <= tol ? 'ok' : 'FAIL'} ${d.toExponential(1)}`);
    };
    compare(
      'ours',
      await captureGpuErrors([device], async () => {
        const y = tidy(() => c.ours(oursIn));
        const out = await y.data();
        y.dispose();
        return out;
      }),
    );

    // Both sides timed the same way (launch, flush, await onSubmittedWorkDone; dispose untimed),
    // their repetitions interleaved.
    const oursSide: Side<Tensor> = {
      run: async () => {
        const out = tidy(() => c.ours(oursIn));
        await sync();
        return out;
      },
      cleanup: (out) => out.dispose(),
    };
    const peerSide: Side<TfTensor> = {
      run: async () => {
        const out = tf.tidy(() => c.peer(tf, peerIn));
        await peer.sync();
        return out;
      },
      cleanup: (out) => out.dispose(),
    };
    const [ours, theirs] = await measureSides([oursSide, peerSide] as Side<unknown>[], opts);

    let js: Row['js'];
    if (c.js && args.js) {
      // No warm-up (the loop is JIT-compiled within the first run); the first output is checked.
      const xs = data.map((d) => d.data);
      let first: Float32Array | undefined;
      const jsOpts = { warmup: 0, reps: args.reps, budgetMs: (args.budget * 1000) / 3, minReps: 1 };
      const t = await measure(
        async () => c.js!(xs),
        (out) => void (first ??= out),
        jsOpts,
      );
      compare('js', first!);
      js = { ...t, rate: rate(c, t.median) };
    }
    return { ...makeRow(c, ours, theirs, `${checks.join(', ')} (tol ${tol.toExponential(1)})`, checkOk), js };
  } finally {
    for (const t of oursIn) t.dispose();
    for (const t of peerIn) t.dispose();
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const cases = ALL.filter((c) => selected(c, args));
  const startup = startupSelected(args);
  const decode = decodeSelected(args);
  if (args.list || (cases.length === 0 && !startup && !decode)) {
    console.log([...ALL.map((c) => tagged(c) + (c.optIn ? ' (opt-in)' : '')), STARTUP, DECODE].join('\n'));
    if (cases.length === 0) console.error(`bench: no case matches --filter ${args.filters.join(',')}`);
    return cases.length === 0 && !startup && !decode ? 1 : 0;
  }

  ortOptions.enabled = args.ort;
  ortOptions.webgpu = args.ortWebgpu;
  await installSharedGpu(); // before getDevice(): both libraries then use this one GPU object
  const device = await getDevice();
  const peer = await setupPeer();
  const adapter = assertSameAdapter(device, peer);
  const info = deviceInfo();
  const env = { LP_NUM_THREADS: process.env.LP_NUM_THREADS ?? null };
  console.log(
    `device: ${info.description} (${info.vendor} ${info.architecture}); same GPU object and adapter for TF.js`,
  );
  console.log(
    `LP_NUM_THREADS=${env.LP_NUM_THREADS}; warm-up ${args.warmup}, reps ${args.reps} (fewer, >= 3, past ${args.budget} s per side), median ms`,
  );

  const rows: Row[] = [];
  const skipped: Array<{ case: string; reason: string }> = [];
  const errors: Array<{ case: string; error: string }> = [];
  let ours0 = memory().numTensors;
  let peer0 = peerTensors(peer);
  const t0 = performance.now();
  for (const c of cases) {
    process.stdout.write(`${label(c)} ... `);
    const tc = performance.now();
    let row: Row | string;
    try {
      row = isSession(c) ? await runSession(c, peer, args, device) : await runCase(c, peer, args, device);
    } catch (e) {
      // A case that fails (e.g. a library cannot run that shape) is reported; the run goes on.
      const msg = e instanceof Error ? e.message : String(e);
      console.log(`FAILED: ${msg}`);
      errors.push({ case: label(c), error: msg });
      ours0 = memory().numTensors;
      peer0 = peerTensors(peer);
      continue;
    }
    const secs = `${((performance.now() - tc) / 1000).toFixed(0)} s`;
    if (typeof row === 'string') {
      console.log(`skipped: ${row}`);
      skipped.push({ case: label(c), reason: row });
      continue;
    }
    rows.push(row);
    console.log(
      `ours ${fmt(row.ours.median)} ms, TF.js ${fmt(row.peer.median)} ms` +
        `${row.js ? `, JS ${fmt(row.js.median, 1)} ms` : ''}${otherPeers(row)}; check ${row.check} [${secs}]`,
    );
    const leakOurs = memory().numTensors - ours0;
    const leakPeer = peerTensors(peer) - peer0;
    if (leakOurs !== 0 || leakPeer !== 0) {
      throw new Error(`bench: ${label(c)} leaked ${leakOurs} of our tensors and ${leakPeer} TF.js tensors`);
    }
  }

  let startupRows: StartupRow[] = [];
  if (startup) {
    process.stdout.write(`time to first result (${args.startupRuns} processes per library and task) ... `);
    try {
      const tsu = performance.now();
      startupRows = await measureStartup(backbonePath(), args.startupRuns);
      console.log(`done [${((performance.now() - tsu) / 1000).toFixed(0)} s]`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      console.log(`FAILED: ${msg}`);
      errors.push({ case: 'time to first result', error: msg });
    }
  }

  let decodeRows: DecodeRow[] = [];
  if (decode) {
    process.stdout.write('JPEG decode (one thread) ... ');
    decodeRows = await measureDecode(flowerPhoto());
  }

  const wall = (performance.now() - t0) / 1000;
  if (rows.length > 0) console.log(`\n${table(rows)}\n`);
  if (decodeRows.length > 0) console.log(`${decodeTable(decodeRows)}\n`);
  if (rows.some((r) => r.extra)) console.log(`${memoryTable(rows)}\n`);
  if (startupRows.length > 0) console.log(`${startupTable(startupRows)}\n`);
  console.log(
    'TF.js/ours > 1 means we are faster (likewise each ONNX Runtime ratio). Rates: matmul and convs FLOPs / t; fill, add, softmax, batchNorm ' +
      'bytes read+written / t; models images / t (ms = one forward pass or one training step).',
  );
  for (const s of skipped) console.log(`skipped ${s.case}: ${s.reason}`);
  for (const e of errors) console.log(`FAILED ${e.case}: ${e.error}`);
  console.log(`bench time: ${wall.toFixed(0)} s`);
  const mem = memory();
  console.log(
    `memory after run: ours ${mem.numTensors} tensors, ${(mem.allocatedBytes / 2 ** 20).toFixed(0)} MiB allocated ` +
      `(${(mem.pooledBytes / 2 ** 20).toFixed(0)} MiB pooled); TF.js ${peerTensors(peer)} tensors`,
  );

  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'latest.json');
  const result = {
    date: new Date().toISOString(),
    device: info,
    adapter,
    peer: {
      library: 'TensorFlow.js WebGPU',
      version: peer.tf.version_core,
      flags: { WEBGPU_CPU_FORWARD: false },
    },
    /** ONNX Runtime peers of the MobileNetV2 rows: versions, and why any was skipped. */
    ort: args.ort ? ortOptions.notes : 'disabled (--no-ort)',
    env,
    node: process.version,
    args: {
      filters: args.filters,
      reps: args.reps,
      warmup: args.warmup,
      budgetS: args.budget,
      js: args.js,
      all: args.all,
      startupRuns: args.startupRuns,
    },
    wallSeconds: wall,
    rows,
    startup: startupRows,
    decode: decodeRows,
    skipped,
    errors,
  };
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(file, json);
  // Also under the run's name (default.json, scaling.json, all.json...), so that runs of different
  // selections do not overwrite each other.
  const name = args.all ? 'all' : args.filters.length === 0 ? 'default' : args.filters.join('_');
  const named = join(dir, `${name.replace(/[^A-Za-z0-9-]+/g, '_').slice(0, 60)}.json`);
  writeFileSync(named, json);
  console.log(`wrote ${file} and ${named}`);
  const failed = rows.filter((r) => !r.checkOk);
  if (failed.length > 0) {
    console.error(`bench: outputs disagree for ${failed.map((r) => `${r.op} ${r.shape}`).join('; ')}`);
  }
  return failed.length > 0 || errors.length > 0 ? 1 : 0;
}

/** A shared flower photo (224x224 4:2:0) as the source of the decode inputs, if present. */
function flowerPhoto(): string | null {
  const p = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data', 'flower_photos');
  return existsSync(p) ? join(p, 'daisy', '14866200659_6462c723cb_m.jpg') : null;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
