/**
 * `npx wgsl-nn install-driver`: what scripts/setup-vulkan.sh does, shipped with the package. Prints
 * the plan (see apt.ts), asks before running it (unless --yes), runs each command through sudo
 * when not root (sudo asks for the password), then reports the installed version.
 */
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline/promises';
import { planDriverInstall } from './apt.js';
import { machine, mesaVersion } from './system.js';

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function installDriver(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => !['--dry-run', '--yes', '-y'].includes(a));
  if (unknown.length) {
    process.stderr.write(
      `wgsl-nn install-driver: unknown argument ${unknown.map((a) => `'${a}'`).join(', ')} (options: --dry-run, --yes)\n`,
    );
    return 1;
  }
  const dry = argv.includes('--dry-run');
  const yes = argv.includes('--yes') || argv.includes('-y');
  const plan = planDriverInstall(machine());
  const out = (s: string) => process.stdout.write(`${s}\n`);
  if (plan.kind === 'installed') {
    out(`install-driver: ${plan.message}; nothing to do (run npx wgsl-nn doctor to check the adapter)`);
    return 0;
  }
  if (plan.kind === 'unsupported') {
    process.stderr.write(`install-driver: ${plan.message}\n`);
    return 1;
  }
  out(`install-driver: ${plan.message}. Plan:`);
  for (const s of plan.steps)
    out(`  - ${s.say}:\n      ${s.input ? `echo '${s.input.trim()}' | ` : ''}${s.argv.join(' ')}`);
  if (dry) return 0;
  if (!yes) {
    if (!process.stdin.isTTY) {
      process.stderr.write('install-driver: not a terminal; pass --yes to run the commands above\n');
      return 1;
    }
    if (!(await confirm('Run these commands? [y/N] '))) {
      out('install-driver: nothing done');
      return 1;
    }
  }
  for (const s of plan.steps) {
    out(`install-driver: ${s.say}`);
    const r = spawnSync(s.argv[0], s.argv.slice(1), {
      input: s.input,
      stdio: [
        s.input === undefined ? 'inherit' : 'pipe',
        s.input === undefined ? 'inherit' : 'ignore',
        'inherit',
      ],
    });
    if (r.error || r.status !== 0) {
      process.stderr.write(
        `install-driver: '${s.argv.join(' ')}' failed (${r.error?.message ?? `exit code ${r.status}`})\n`,
      );
      return 1;
    }
  }
  out(`install-driver: installed mesa-vulkan-drivers ${mesaVersion() ?? '?'}; now run npx wgsl-nn doctor`);
  return 0;
}
