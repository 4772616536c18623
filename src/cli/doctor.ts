/**
 * `npx wgsl-nn doctor`: what this machine gives WebGPU (Node, the `webgpu` package, the Vulkan
 * loader and driver, the adapter with its limits and features), a one-op compute check through the
 * library, and what to install when something is missing.
 *
 * The adapter is probed in a child process: a missing or broken driver can crash Dawn, and the
 * child's stderr is ours to filter. Dawn prints two warnings on every machine whose Vulkan driver
 * reports more dynamic buffers than Dawn supports (Mesa lavapipe reports 1000000):
 * "maxDynamic{Uniform,Storage}BuffersPerPipelineLayout artificially reduced from 1000000 to 16".
 * They come from Dawn's own adapter set-up, before and whatever the library requests (a bare
 * `requestAdapter()` prints them), from native code straight to file descriptor 2, so a library
 * cannot filter them inside a process; the doctor drops them from its probe's output and says why.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MIN_MESA_MAJOR, majorVersion, planDriverInstall } from './apt.js';
import { machine, vulkanLoader } from './system.js';

/** Dawn's harmless adapter warnings (see above). */
export const DAWN_LIMIT_WARNING =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

export interface ProbeResult {
  webgpu?: { version: string } | { error: string };
  adapter?: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    limits: Record<string, number>;
    features: string[];
  };
  check?: { ok: boolean; result?: number[]; ms?: number; error?: string };
}

function packageVersion(name: string, from: URL): string {
  try {
    return (JSON.parse(readFileSync(new URL(from), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return name === 'wgsl-nn' ? '?' : 'not found';
  }
}

/** Runs in the child: loads Dawn, asks for an adapter, then runs one op through the library. */
export async function probe(): Promise<ProbeResult> {
  const out: ProbeResult = {};
  const pkg = 'webgpu';
  let mod: { create: (flags: string[]) => GPU; globals: object };
  try {
    mod = (await import(pkg)) as typeof mod;
    const entry = fileURLToPath(import.meta.resolve(pkg));
    const version = packageVersion(pkg, new URL('package.json', new URL('.', `file://${entry}`)));
    out.webgpu = { version };
  } catch (e) {
    out.webgpu = { error: (e as Error).message };
    return out;
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return out;
  const limits: Record<string, number> = {};
  for (const k in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const info = adapter.info;
  out.adapter = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    limits,
    features: [...adapter.features].sort(),
  };
  try {
    const lib = await import('../index.js');
    const t0 = performance.now();
    await lib.getDevice();
    const a = lib.tensor([1, 2, 3]);
    const b = lib.tensor([10, 20, 30]);
    const c = lib.add(a, b);
    const result = Array.from(await c.data());
    for (const t of [a, b, c]) t.dispose();
    out.check = { ok: result.join() === '11,22,33', result, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    out.check = { ok: false, error: (e as Error).message };
  }
  return out;
}

/** Splits the probe's stderr into Dawn's known warnings and anything else. */
export function splitDawnWarnings(stderr: string): { dawn: string[]; other: string[] } {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  return {
    dawn: lines.filter((l) => DAWN_LIMIT_WARNING.test(l)),
    other: lines.filter((l) => !DAWN_LIMIT_WARNING.test(l)),
  };
}

const HINT_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
];

/** Prints the report; returns the exit code (0: an adapter ran the check, 1: it did not). */
export function doctor(
  argv: string[],
  write: (s: string) => void = (s) => void process.stdout.write(s),
): number {
  const json = argv.includes('--json');
  const self = fileURLToPath(new URL('./main.js', import.meta.url)).replace(
    /\.js$/,
    import.meta.url.endsWith('.ts') ? '.ts' : '.js',
  );
  const child = spawnSync(process.execPath, [...process.execArgv, self, '__probe'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: process.env,
  });
  let result: ProbeResult = {};
  const line = child.stdout?.split('\n').find((l) => l.startsWith('{'));
  if (line) result = JSON.parse(line) as ProbeResult;
  const { dawn, other } = splitDawnWarnings(child.stderr ?? '');
  const m = machine();
  const loader = platform() === 'linux' ? vulkanLoader() : undefined;
  const ok = Boolean(result.adapter && result.check?.ok);
  if (json) {
    write(
      `${JSON.stringify({ ok, node: process.version, platform: `${platform()} ${arch()}`, vulkanLoader: loader ?? null, mesaVulkanDrivers: m.mesaVersion ?? null, ...result, dawnWarnings: dawn, stderr: other, exitCode: child.status, signal: child.signal })}\n`,
    );
    return ok ? 0 : 1;
  }
  const p = (s = '') => write(`${s}\n`);
  p(`wgsl-nn doctor (wgsl-nn ${packageVersion('wgsl-nn', new URL('../../package.json', import.meta.url))})`);
  p(
    `  Node ${process.version} on ${platform()} ${arch()}${m.osRelease.PRETTY_NAME ? ` (${m.osRelease.PRETTY_NAME})` : ''}`,
  );
  const w = result.webgpu;
  p(`  webgpu package (Dawn): ${!w ? 'not probed' : 'error' in w ? `cannot load: ${w.error}` : w.version}`);
  if (platform() === 'linux') {
    p(`  Vulkan loader (libvulkan.so.1): ${loader ?? 'not found'}`);
    p(
      `  Mesa Vulkan drivers (mesa-vulkan-drivers): ${m.mesaVersion ?? 'not installed (or not a dpkg system)'}`,
    );
  }
  if (result.adapter) {
    const a = result.adapter;
    p(
      `  Adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no info)'}`,
    );
    p(`  Features: ${a.features.join(', ') || '(none)'}`);
    p('  Limits:');
    const keys = [
      ...HINT_LIMITS.filter((k) => k in a.limits),
      ...Object.keys(a.limits)
        .filter((k) => !HINT_LIMITS.includes(k))
        .sort(),
    ];
    for (const k of keys) p(`    ${k.padEnd(44)} ${a.limits[k]}`);
  } else {
    p('  Adapter: NONE (Dawn found no WebGPU adapter)');
  }
  if (result.check) {
    const c = result.check;
    p(
      c.ok
        ? `  Compute check: [1,2,3] + [10,20,30] = [${c.result}] (${c.ms} ms, device set-up included): OK`
        : `  Compute check: FAILED: ${c.error ?? `got [${c.result}]`}`,
    );
  }
  if (child.signal || (child.status !== 0 && !line))
    p(`  The probe process ended with ${child.signal ?? `exit code ${child.status}`}.`);
  for (const l of other) p(`  probe stderr: ${l}`);
  if (dawn.length)
    p(
      `  (Dawn printed ${dawn.length} warnings that dynamic-buffer limits were "artificially reduced": the driver reports more than Dawn supports; harmless, printed by Dawn itself at adapter set-up.)`,
    );
  if (!ok) {
    p();
    p('What to do:');
    if (w && 'error' in w)
      p('  - reinstall the dependencies (npm install): the webgpu package did not load.');
    if (platform() === 'linux') {
      const plan = planDriverInstall(m);
      if (plan.kind === 'install')
        p(
          `  - ${plan.message}.\n    Run: npx wgsl-nn install-driver   (or --dry-run to see the commands first)`,
        );
      else if (plan.kind === 'unsupported') p(`  - ${plan.message}`);
      else if (!loader)
        p(
          "  - the Vulkan loader libvulkan.so.1 is missing: install libvulkan1 (or your distribution's vulkan-loader).",
        );
      else if ((majorVersion(m.mesaVersion) ?? 0) >= MIN_MESA_MAJOR)
        p(
          '  - a recent Mesa is installed but Dawn sees no adapter: check VK_ICD_FILENAMES and that /usr/share/vulkan/icd.d/ lists lvp_icd.*.json.',
        );
    } else if (platform() === 'darwin')
      p('  - macOS: Dawn uses Metal; update macOS and Node, then reinstall the webgpu package.');
    else if (platform() === 'win32') p('  - Windows: Dawn uses Direct3D 12; update the GPU driver.');
    p('  - In a browser, WebGPU needs a recent Chrome/Edge (or Firefox/Safari with WebGPU enabled).');
  }
  return ok ? 0 : 1;
}
