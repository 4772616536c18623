#!/usr/bin/env node
/**
 * The `wgsl-nn` command (package.json "bin"):
 *   npx wgsl-nn doctor [--json]              what WebGPU this machine has, and what to install
 *   npx wgsl-nn install-driver [--dry-run] [--yes]   Mesa lavapipe on Debian/Ubuntu (uses sudo)
 *   npx wgsl-nn tune [--quick] [--reps N] [--json]   time the kernel candidates, cache the winners
 */
import { doctor, probe } from './doctor.js';
import { installDriver } from './install-driver.js';
import { tune } from './tune.js';

const USAGE = `Usage: npx wgsl-nn <command>

Commands:
  doctor [--json]                  Show the WebGPU adapter, its limits and features, run one op on it,
                                   and say what to install when there is no adapter.
  install-driver [--dry-run] [--yes]
                                   Install a Vulkan driver Dawn accepts (Mesa lavapipe >= 24) on
                                   Debian or Ubuntu with apt-get, through sudo when not root.
                                   The Debian mirror is taken from your apt sources.
  tune [--quick] [--reps N] [--json]
                                   Time the candidate configurations of the tunable kernels (matmul
                                   and conv tiles, depthwise strips, batch-norm rows) at a standard
                                   set of shapes on this adapter and store the winners under
                                   $XDG_CACHE_HOME/wgsl-nn (default ~/.cache/wgsl-nn); every later
                                   process loads them. --quick: fewer matmul candidates.
  help                             This text.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case '__probe':
      process.stdout.write(`${JSON.stringify(await probe())}\n`);
      return 0;
    case 'doctor':
      return doctor(rest);
    case 'install-driver':
      return installDriver(rest);
    case 'tune':
      return tune(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`wgsl-nn: unknown command '${cmd}'\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`wgsl-nn: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
