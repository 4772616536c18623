import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type AptSourceFile,
  aptUris,
  BACKPORTS_LIST,
  debianMirror,
  type Machine,
  majorVersion,
  parseOsRelease,
  planDriverInstall,
} from '../src/cli/apt.js';
import { DAWN_LIMIT_WARNING, splitDawnWarnings } from '../src/cli/doctor.js';
import { parseTuneArgs } from '../src/cli/tune.js';

/*
 * Issue 15, bug 5: with no adapter the error told package users to run scripts/setup-vulkan.sh,
 * which the package does not ship. The package now has a `wgsl-nn` bin (`doctor`,
 * `install-driver`; the package test runs it from the installed tarball) and the error points at it.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [tsx, join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });

const bookworm = parseOsRelease(
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
);
// The deb822 layout of a Debian 12 image, with the security archive listed first on purpose.
const deb822: AptSourceFile = {
  path: '/etc/apt/sources.list.d/debian.sources',
  text: [
    'Types: deb',
    'URIs: http://mirror.example/debian-security',
    'Suites: bookworm-security',
    'Components: main',
    '',
    'Types: deb-src',
    'URIs: http://src-only.example/debian',
    'Suites: bookworm',
    '',
    'Types: deb',
    '# a comment line inside the stanza',
    'URIs: http://mirror.example/debian/',
    'Suites: bookworm bookworm-updates',
    'Components: main',
    '',
  ].join('\n'),
};
const base = (over: Partial<Machine>): Machine => ({
  osRelease: bookworm,
  sources: [deb822],
  mesaVersion: '22.3.6-1+deb12u1',
  hasAptGet: true,
  isRoot: false,
  ...over,
});

describe('tune arguments', () => {
  it('parses flags and rejects the rest', () => {
    expect(parseTuneArgs([])).toEqual({ quick: false, reps: 3, json: false });
    expect(parseTuneArgs(['--quick', '--reps', '5', '--json'])).toEqual({ quick: true, reps: 5, json: true });
    expect(parseTuneArgs(['--fast'])).toMatch(/^wgsl-nn tune: unknown argument --fast/);
    expect(parseTuneArgs(['--reps', 'x'])).toMatch(/--reps needs a positive integer, got x/);
  });
});

describe('install-driver plan', () => {
  it('reads os-release, one-line and deb822 apt sources, and finds the Debian mirror (not security)', () => {
    expect(bookworm.ID).toBe('debian');
    expect(bookworm.PRETTY_NAME).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(aptUris([deb822])).toEqual([
      'http://mirror.example/debian-security',
      'http://mirror.example/debian/',
    ]);
    expect(debianMirror([deb822])).toBe('http://mirror.example/debian');
    const list: AptSourceFile = {
      path: '/etc/apt/sources.list',
      text: '# deb http://old.example/debian bookworm main\ndeb [arch=amd64] https://fast.example/debian bookworm main\n',
    };
    expect(debianMirror([list, deb822])).toBe('https://fast.example/debian');
    expect(
      debianMirror([
        { path: '/etc/apt/sources.list.d/x.list', text: 'deb http://a.example/ubuntu jammy main' },
      ]),
    ).toBe(undefined);
    expect(majorVersion('1:25.0.7-2~bpo12+1')).toBe(25);
    expect(majorVersion('22.3.6-1+deb12u1')).toBe(22);
  });

  it('plans bookworm-backports from the machine mirror, through sudo unless root', () => {
    const plan = planDriverInstall(base({}));
    expect(plan.kind).toBe('install');
    if (plan.kind !== 'install') return;
    expect(plan.steps.map((s) => s.argv)).toEqual([
      ['sudo', 'tee', BACKPORTS_LIST],
      ['sudo', 'apt-get', 'update', '-q'],
      [
        'sudo',
        'env',
        'DEBIAN_FRONTEND=noninteractive',
        'apt-get',
        'install',
        '-y',
        '-q',
        '-t',
        'bookworm-backports',
        'mesa-vulkan-drivers',
        'libvulkan1',
      ],
    ]);
    expect(plan.steps[0].input).toBe('deb http://mirror.example/debian bookworm-backports main\n');
    expect(plan.message).toMatch(/22\.3\.6.* too old.*>= 24.*sudo/);
    const asRoot = planDriverInstall(base({ isRoot: true, mesaVersion: undefined }));
    expect(asRoot.kind === 'install' && asRoot.steps.every((s) => s.argv[0] !== 'sudo')).toBe(true);
  });

  it('does nothing when Mesa >= 24 is installed, uses the release archive on Ubuntu, refuses elsewhere', () => {
    expect(planDriverInstall(base({ mesaVersion: '25.0.7-2~bpo12+1' })).kind).toBe('installed');
    const ubuntu = planDriverInstall(
      base({ osRelease: parseOsRelease('ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n'), sources: [] }),
    );
    expect(ubuntu.kind === 'install' && ubuntu.steps.map((s) => s.argv.at(-2))).toEqual([
      'update',
      'mesa-vulkan-drivers',
    ]);
    const fedora = planDriverInstall(
      base({ osRelease: parseOsRelease('ID=fedora\nPRETTY_NAME="Fedora Linux 41"\n'), hasAptGet: false }),
    );
    expect(fedora.kind).toBe('unsupported');
    expect(fedora.kind === 'unsupported' && fedora.message).toMatch(
      /Fedora Linux 41.*mesa-vulkan-drivers vulkan-loader/,
    );
    const noMirror = planDriverInstall(base({ sources: [] }));
    expect(noMirror.kind === 'unsupported' && noMirror.message).toMatch(/no Debian mirror was found/);
  });
});

describe('wgsl-nn doctor', () => {
  it('filters exactly Dawn\'s two "artificially reduced" warnings from the probe output', () => {
    const stderr = [
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'Warning: vkCreateInstance: Found no drivers!',
      '',
    ].join('\n');
    const { dawn, other } = splitDawnWarnings(stderr);
    expect(dawn).toHaveLength(2);
    expect(other).toEqual(['Warning: vkCreateInstance: Found no drivers!']);
    expect(DAWN_LIMIT_WARNING.test('Warning: something else artificially reduced')).toBe(false);
  });

  it('reports the adapter, its limits and features and runs one op', () => {
    const r = cli(['doctor']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}Adapter: \S/m);
    expect(r.stdout).toMatch(/^ {4}maxStorageBufferBindingSize +\d+$/m);
    expect(r.stdout).toMatch(/^ {2}Features: /m);
    expect(r.stdout).toContain('Compute check: [1,2,3] + [10,20,30] = [11,22,33]');
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/^Warning: maxDynamic/m);
    const json = JSON.parse(cli(['doctor', '--json']).stdout) as { ok: boolean; adapter: { limits: object } };
    expect(json.ok).toBe(true);
    expect(Object.keys(json.adapter.limits).length).toBeGreaterThan(10);
  });

  it('without an adapter: doctor says what to do, and the library error points at the bin', () => {
    const env = { VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' };
    const r = cli(['doctor'], env);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('Adapter: NONE');
    expect(r.stdout).toContain('What to do:');
    const script = `import { getDevice } from ${JSON.stringify(join(root, 'src/index.ts'))};
      try { await getDevice(); console.log('got a device'); } catch (e) { console.log(e.name + ': ' + e.message); }
      process.exit(0);`;
    const lib = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    expect(lib.stdout).toMatch(/^DeviceError: No WebGPU adapter was found/);
    expect(lib.stdout).toContain('`npx wgsl-nn doctor`');
    expect(lib.stdout).toContain('`npx wgsl-nn install-driver`');
    expect(lib.stdout).not.toContain('scripts/');
  });

  it('install-driver --dry-run prints the plan (or that nothing is needed) without running it', () => {
    const r = cli(['install-driver', '--dry-run']);
    expect(`${r.stdout}${r.stderr}`).toMatch(/^install-driver: /m);
    expect(cli(['install-driver', '--bogus']).stderr).toContain("unknown argument '--bogus'");
    expect(cli(['frobnicate']).stderr).toContain("unknown command 'frobnicate'");
    const t = cli(['tune', '--reps', '0']);
    expect(t.status).toBe(2);
    expect(t.stderr).toContain('wgsl-nn tune: --reps needs a positive integer, got 0');
  });
});
