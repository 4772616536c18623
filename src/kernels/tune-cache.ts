import type { DeviceInfo } from '../tensor/device.js';
import { VERSION } from '../version.js';

/**
 * The autotune cache format and its checks: winners per adapter, stored as JSON by a `TuneStore`
 * (a file under the user's cache folder in Node, localStorage in a browser). A cache is used only
 * when every part of it checks out: the format, this library's version, this adapter (vendor,
 * architecture, description), and every key and value a known family, shape class and candidate.
 * Anything else makes `parseTuneCache` return the reason, and the caller ignores the whole cache.
 */

/** Candidate configurations of the tunable kernel families. */
export interface TuneCandidates {
  /** Matmul subgroup tile: rows per subgroup, subgroups per workgroup, row blocks along x. */
  matmul: { mr: number; s: number; rowsX: boolean };
  /** Implicit-GEMM conv tile: output pixels per subgroup, subgroups per workgroup. */
  conv: { rows: number; groups: number };
  /** Depthwise strip: output pixels and rows per lane. */
  depthwise: { px: number; rows: number };
  /** Batch norm: rows per lane of the elementwise passes. */
  batchNorm: { rows: number };
}

/** A tunable kernel family: 'matmul', 'conv', 'depthwise' or 'batchNorm'. */
export type TuneFamily = keyof TuneCandidates;

/** The values each field of a family's candidates may take (the search space). */
export const SPACE: {
  readonly [F in TuneFamily]: { readonly [K in keyof TuneCandidates[F]]: readonly unknown[] };
} = {
  matmul: { mr: [4, 16, 32], s: [1, 2, 4], rowsX: [false, true] },
  conv: { rows: [8, 16, 32], groups: [1, 2] },
  depthwise: { px: [1, 2], rows: [1, 2, 4, 8, 16] },
  batchNorm: { rows: [8, 16, 32, 64] },
};

export const FAMILIES = Object.keys(SPACE) as TuneFamily[];

/** The adapter a cache belongs to. */
export interface AdapterKey {
  vendor: string;
  architecture: string;
  description: string;
}

export interface TuneCacheFile {
  format: 'wgsl-nn-tuning';
  library: string;
  adapter: AdapterKey;
  /** Winners by `<family>:<shape class>`. */
  winners: Record<string, unknown>;
}

export function adapterKey(info: Pick<DeviceInfo, 'vendor' | 'architecture' | 'description'>): AdapterKey {
  return { vendor: info.vendor, architecture: info.architecture, description: info.description };
}

/** A short file-name-safe id of an adapter (FNV-1a of its key). */
export function adapterId(a: AdapterKey): string {
  let h = 0x811c9dc5;
  for (const ch of `${a.vendor}\n${a.architecture}\n${a.description}`) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const name = `${a.vendor || 'unknown'}-${a.architecture || 'unknown'}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${name.slice(0, 40)}-${h.toString(16).padStart(8, '0')}`;
}

/** Shape classes look like `pw:1024x64x256` (letters, digits, `x` and `:`). */
const CLASS = /^[a-z0-9x:]{1,64}$/;

/** True when `v` is a candidate of `family` (exactly its fields, each a value of the space). */
export function isCandidate(family: TuneFamily, v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const space = SPACE[family] as Record<string, readonly unknown[]>;
  const keys = Object.keys(v);
  if (keys.length !== Object.keys(space).length) return false;
  return keys.every((k) => k in space && space[k].includes((v as Record<string, unknown>)[k]));
}

/** Checks a cache's text against this adapter: the winners, or the reason to ignore it. */
export function parseTuneCache(
  text: string,
  adapter: AdapterKey,
): { winners: Map<string, unknown> } | { reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { reason: `not JSON (${(e as Error).message})` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { reason: 'not a JSON object' };
  const f = raw as Partial<TuneCacheFile> & Record<string, unknown>;
  const extra = Object.keys(f).filter((k) => !['format', 'library', 'adapter', 'winners'].includes(k));
  if (extra.length) return { reason: `unknown keys ${extra.join(', ')}` };
  if (f.format !== 'wgsl-nn-tuning') return { reason: `format is ${JSON.stringify(f.format)}` };
  if (f.library !== VERSION) return { reason: `made by wgsl-nn ${String(f.library)}, this is ${VERSION}` };
  const a = f.adapter as Partial<AdapterKey> | undefined;
  if (
    !a ||
    a.vendor !== adapter.vendor ||
    a.architecture !== adapter.architecture ||
    a.description !== adapter.description
  ) {
    return { reason: `made for another adapter (${JSON.stringify(a)})` };
  }
  if (typeof f.winners !== 'object' || f.winners === null || Array.isArray(f.winners))
    return { reason: 'winners is not an object' };
  const winners = new Map<string, unknown>();
  for (const [key, v] of Object.entries(f.winners)) {
    const at = key.indexOf(':');
    const family = key.slice(0, at) as TuneFamily;
    if (at < 0 || !FAMILIES.includes(family) || !CLASS.test(key.slice(at + 1)))
      return { reason: `unknown key ${JSON.stringify(key)}` };
    if (!isCandidate(family, v)) return { reason: `${key}: not a ${family} candidate: ${JSON.stringify(v)}` };
    winners.set(key, v);
  }
  return { winners };
}

export function serializeTuneCache(adapter: AdapterKey, winners: ReadonlyMap<string, unknown>): string {
  const file: TuneCacheFile = {
    format: 'wgsl-nn-tuning',
    library: VERSION,
    adapter,
    winners: Object.fromEntries([...winners].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  return `${JSON.stringify(file, null, 1)}\n`;
}

/**
 * Where winners are kept between runs. `read` returns the cache's text (undefined: no cache; it may
 * throw: unreadable), synchronously, since kernels look winners up while recording; `write` replaces
 * it (atomically in Node). `where` names it in warnings.
 */
export interface TuneStore {
  where(adapter: AdapterKey): string;
  read(adapter: AdapterKey): string | undefined;
  write(adapter: AdapterKey, text: string): Promise<void>;
}

/** The browser store: localStorage, when the page has it. */
export function localStorageStore(): TuneStore | undefined {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (!ls) return undefined;
  const key = (a: AdapterKey) => `wgsl-nn-tuning:${adapterId(a)}`;
  return {
    where: (a) => `localStorage['${key(a)}']`,
    read: (a) => ls.getItem(key(a)) ?? undefined,
    write: async (a, text) => ls.setItem(key(a), text),
  };
}
