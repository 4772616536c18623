/** Reads what the doctor and the driver installer need to know about this machine (Node only). */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AptSourceFile, Machine } from './apt.js';
import { parseOsRelease } from './apt.js';

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function osRelease(): Record<string, string> {
  return parseOsRelease(readOr('/etc/os-release') ?? readOr('/usr/lib/os-release') ?? '');
}

export function aptSources(): AptSourceFile[] {
  const files: AptSourceFile[] = [];
  const main = readOr('/etc/apt/sources.list');
  if (main !== undefined) files.push({ path: '/etc/apt/sources.list', text: main });
  const dir = '/etc/apt/sources.list.d';
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    // no apt
  }
  for (const n of names) {
    const text = readOr(`${dir}/${n}`);
    if (text !== undefined) files.push({ path: `${dir}/${n}`, text });
  }
  return files;
}

/** A command's trimmed stdout, or undefined when it is missing or fails. */
export function run(argv: string[]): string | undefined {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(`${d}/${cmd}`));
}

export function mesaVersion(): string | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  return run(['dpkg-query', '-W', '-f=${Version}', 'mesa-vulkan-drivers']) || undefined;
}

/** Whether the Vulkan loader (libvulkan.so.1) is installed, where we can tell. */
export function vulkanLoader(): string | undefined {
  const listed = run(['ldconfig', '-p'])
    ?.split('\n')
    .find((l) => l.includes('libvulkan.so.1'));
  if (listed) return listed.split('=>').pop()?.trim();
  for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'])
    if (existsSync(`${d}/libvulkan.so.1`)) return `${d}/libvulkan.so.1`;
  return undefined;
}

export function machine(): Machine {
  return {
    osRelease: osRelease(),
    sources: aptSources(),
    mesaVersion: mesaVersion(),
    hasAptGet: onPath('apt-get'),
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
  };
}
