/**
 * What `npx wgsl-nn install-driver` does on Debian and Ubuntu, as data: read the machine's apt
 * sources and os-release, decide which packages to install from where, and return the commands.
 * Pure functions (the caller reads the files), so the plan is tested without root or network.
 * The mirror is always taken from the machine's own apt sources, never hard-coded.
 */

/** Dawn rejects Mesa lavapipe older than this (Debian 12's own mesa 22 is refused). */
export const MIN_MESA_MAJOR = 24;

/** Where the backports line goes on Debian 12. */
export const BACKPORTS_LIST = '/etc/apt/sources.list.d/wgsl-nn-backports.list';

export interface AptSourceFile {
  path: string;
  text: string;
}

/** `/etc/os-release` as a record (`ID`, `ID_LIKE`, `VERSION_CODENAME`...), quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** The archive URIs of enabled `deb` entries, in file order (one-line `.list` and deb822 `.sources`). */
export function aptUris(files: readonly AptSourceFile[]): string[] {
  const uris: string[] = [];
  for (const f of files) {
    if (f.path.endsWith('.sources')) {
      for (const stanza of f.text.split(/\n\s*\n/)) {
        const field = (name: string) =>
          new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        if (field('Enabled')[0]?.toLowerCase() === 'no' || !field('Types').includes('deb')) continue;
        uris.push(...field('URIs'));
      }
    } else if (f.path.endsWith('.list')) {
      for (const raw of f.text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        if (!line.startsWith('deb ')) continue;
        const uri = line.split(/\s+/).find((w) => /^(https?|file|ftp):/.test(w));
        if (uri) uris.push(uri);
      }
    }
  }
  return uris;
}

/** The first Debian archive mirror (`.../debian`, not `-security`) in the apt sources. */
export function debianMirror(files: readonly AptSourceFile[]): string | undefined {
  return aptUris(files)
    .map((u) => u.replace(/\/+$/, ''))
    .find((u) => /\/debian$/.test(u) && !/-security/.test(u));
}

/** The major version of a Debian package version (`1:25.0.7-2~bpo12+1` -> 25). */
export function majorVersion(version: string | undefined): number | undefined {
  if (!version) return undefined;
  const m = /^(?:\d+:)?(\d+)/.exec(version);
  return m ? Number(m[1]) : undefined;
}

export interface Machine {
  osRelease: Record<string, string>;
  sources: readonly AptSourceFile[];
  /** `dpkg-query` version of mesa-vulkan-drivers, if installed. */
  mesaVersion?: string;
  hasAptGet: boolean;
  isRoot: boolean;
}

export interface Step {
  /** What the step does, for the user. */
  say: string;
  argv: string[];
  /** Written to the command's stdin (the `tee` of a sources line). */
  input?: string;
}

export type DriverPlan =
  | { kind: 'installed'; message: string }
  | { kind: 'unsupported'; message: string }
  | { kind: 'install'; steps: Step[]; message: string };

const PACKAGES = ['mesa-vulkan-drivers', 'libvulkan1'];

/**
 * The commands that give Dawn a Vulkan adapter on this machine: nothing when a recent enough
 * lavapipe is installed; on Debian 12, bookworm-backports from the machine's own Debian mirror
 * then Mesa from it; on other Debian and Ubuntu releases, Mesa from their own archives.
 * Commands run through sudo unless the user is root.
 */
export function planDriverInstall(m: Machine): DriverPlan {
  const major = majorVersion(m.mesaVersion);
  if (major !== undefined && major >= MIN_MESA_MAJOR)
    return { kind: 'installed', message: `mesa-vulkan-drivers ${m.mesaVersion} is already installed` };
  const id = m.osRelease.ID ?? '';
  const like = (m.osRelease.ID_LIKE ?? '').split(/\s+/);
  if (!m.hasAptGet || !(id === 'debian' || id === 'ubuntu' || like.includes('debian')))
    return {
      kind: 'unsupported',
      message: `install-driver knows Debian and Ubuntu (apt-get); this is ${m.osRelease.PRETTY_NAME ?? (id || 'an unknown system')}. Install a Vulkan driver yourself: Mesa lavapipe >= ${MIN_MESA_MAJOR} (Fedora: mesa-vulkan-drivers vulkan-loader; Arch: vulkan-swrast) or your GPU vendor's driver, plus the Vulkan loader.`,
    };
  const sudo = m.isRoot ? [] : ['sudo'];
  const code = m.osRelease.VERSION_CODENAME ?? '';
  const steps: Step[] = [];
  const env = ['env', 'DEBIAN_FRONTEND=noninteractive'];
  if (id === 'debian' && code === 'bookworm') {
    const mirror = debianMirror(m.sources);
    if (!mirror)
      return {
        kind: 'unsupported',
        message:
          'Debian 12 needs Mesa from bookworm-backports, but no Debian mirror was found in /etc/apt/sources.list or /etc/apt/sources.list.d/: add your mirror there first.',
      };
    steps.push({
      say: `add bookworm-backports from ${mirror} (${BACKPORTS_LIST})`,
      argv: [...sudo, 'tee', BACKPORTS_LIST],
      input: `deb ${mirror} bookworm-backports main\n`,
    });
    steps.push({ say: 'update the package lists', argv: [...sudo, 'apt-get', 'update', '-q'] });
    steps.push({
      say: `install ${PACKAGES.join(' ')} from bookworm-backports`,
      argv: [...sudo, ...env, 'apt-get', 'install', '-y', '-q', '-t', 'bookworm-backports', ...PACKAGES],
    });
  } else {
    steps.push({ say: 'update the package lists', argv: [...sudo, 'apt-get', 'update', '-q'] });
    steps.push({
      say: `install ${PACKAGES.join(' ')}`,
      argv: [...sudo, ...env, 'apt-get', 'install', '-y', '-q', ...PACKAGES],
    });
  }
  const now = m.mesaVersion ? `mesa-vulkan-drivers ${m.mesaVersion} is too old` : 'no Mesa Vulkan driver';
  return {
    kind: 'install',
    steps,
    message: `${now}; Dawn needs Mesa lavapipe >= ${MIN_MESA_MAJOR} (or a GPU driver)${m.isRoot ? '' : '; the commands run with sudo, which may ask for your password'}`,
  };
}
