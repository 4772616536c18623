/**
 * The web demo's server: serves examples/web/ (its TypeScript bundled with esbuild), the library's
 * browser bundle dist/browser/wgsl-nn.js (rebuilt when missing or older than src/), a trained model
 * folder under /model/ and, when the shared flowers photos exist, a few sample photos under /samples/.
 *
 *   npm run web -- [--port 8080] [--model out/flowers] [--host 127.0.0.1]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
const bundlePath = join(repoRoot, 'dist', 'browser', 'wgsl-nn.js');
/** The URL pages load the library from (also the target of their import map). */
export const LIBRARY_URL = '/wgsl-nn.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

/** Runs `npm run build` when dist/browser/wgsl-nn.js is missing or older than src/ or the build script. */
export function ensureBrowserBundle(log: (s: string) => void = console.log): void {
  const sources = Math.max(
    newestMtime(join(repoRoot, 'src')),
    newestMtime(join(repoRoot, 'scripts', 'browser-shims')),
    statSync(join(repoRoot, 'scripts', 'build.mjs')).mtimeMs,
  );
  if (existsSync(bundlePath) && statSync(bundlePath).mtimeMs >= sources) return;
  log(existsSync(bundlePath) ? 'dist/browser is older than src/: rebuilding' : 'building dist/browser');
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/**
 * Bundles a page's TypeScript entry for the browser. Imports of the library's core (src/index.ts)
 * stay imports of LIBRARY_URL, so pages run on the same bundle that users load.
 */
export async function bundlePage(entry: string): Promise<string> {
  const srcIndex = join(repoRoot, 'src', 'index');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    sourcemap: 'inline',
    logLevel: 'warning',
    plugins: [
      {
        name: 'library-external',
        setup(build) {
          build.onResolve({ filter: /src\/index(\.js|\.ts)?$/ }, (args) => {
            const p = resolve(args.resolveDir, args.path).replace(/\.(js|ts)$/, '');
            return p === srcIndex ? { path: LIBRARY_URL, external: true } : undefined;
          });
          // Test oracles import vitest's expect for their assertion helpers; pages never call those.
          build.onResolve({ filter: /^vitest$/ }, () => ({ path: 'vitest', namespace: 'stub' }));
          build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
            contents:
              'export const expect = () => { throw new Error("expect() is not available in pages"); };',
            loader: 'js',
          }));
        },
      },
    ],
  });
  return result.outputFiles[0].text;
}

export interface Asset {
  type: string;
  body: string | Uint8Array;
}

export interface ServerOptions {
  port?: number;
  host?: string;
  /** Folder with model.json, model.safetensors and flowers.json, served under /model/. */
  modelDir: string;
  /** Folder of class sub-folders with photos; a few per class are served under /samples/. */
  samplesDir?: string;
  samplesPerClass?: number;
  /** More assets by URL path (tests add their own pages). */
  extra?: Record<string, Asset>;
  /** Rebuild dist/browser when it is missing or stale (default true). */
  ensureBundle?: boolean;
  log?: (s: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Sample photos: the first `n` images (sorted) of each class folder. */
function listSamples(dir: string | undefined, n: number): Record<string, string[]> {
  if (!dir || !existsSync(dir)) return {};
  const out: Record<string, string[]> = {};
  for (const cls of readdirSync(dir).sort()) {
    const p = join(dir, cls);
    if (!statSync(p).isDirectory()) continue;
    const files = readdirSync(p)
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort()
      .slice(0, n);
    if (files.length > 0) out[cls] = files;
  }
  return out;
}

/** `root/rel` when it stays inside root, else null (`..` and absolute paths are refused). */
function inside(root: string, rel: string): string | null {
  const p = resolve(root, rel);
  if (p !== root && !p.startsWith(root + sep)) return null;
  const r = relative(root, p);
  if (r.startsWith('..')) return null;
  return p;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? console.log;
  const modelDir = resolve(opts.modelDir);
  if (opts.ensureBundle ?? true) ensureBrowserBundle(log);
  const t0 = performance.now();
  const app = await bundlePage(join(here, 'app.ts'));
  log(`bundled examples/web/app.ts in ${(performance.now() - t0).toFixed(0)} ms`);
  const samples = listSamples(opts.samplesDir, opts.samplesPerClass ?? 6);
  const assets: Record<string, Asset> = {
    '/': { type: TYPES['.html'], body: readFileSync(join(here, 'index.html')) },
    '/style.css': { type: TYPES['.css'], body: readFileSync(join(here, 'style.css')) },
    '/app.js': { type: TYPES['.js'], body: app },
    '/samples/index.json': { type: TYPES['.json'], body: JSON.stringify({ classes: samples }) },
    ...opts.extra,
  };

  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const sendFile = (res: ServerResponse, path: string) => {
    if (!existsSync(path) || !statSync(path).isFile()) return send(res, 404, 'text/plain', 'not found\n');
    send(res, 200, TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream', readFileSync(path));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(res, 400, 'text/plain', 'bad path\n');
    }
    if (path.includes('\0') || path.split('/').includes('..')) {
      return send(res, 403, 'text/plain', 'forbidden\n');
    }
    const asset = assets[path];
    if (asset) return send(res, 200, asset.type, asset.body);
    if (path === LIBRARY_URL || path === `${LIBRARY_URL}.map`) {
      return sendFile(res, bundlePath + (path.endsWith('.map') ? '.map' : ''));
    }
    if (path.startsWith('/model/')) {
      const p = inside(modelDir, path.slice('/model/'.length));
      return p ? sendFile(res, p) : send(res, 403, 'text/plain', 'forbidden\n');
    }
    const m = /^\/samples\/([^/]+)\/([^/]+)$/.exec(path);
    if (m && opts.samplesDir && samples[m[1]]?.includes(m[2])) {
      return sendFile(res, join(opts.samplesDir, m[1], m[2]));
    }
    send(res, 404, 'text/plain', 'not found\n');
  };

  const server = createServer(handle);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}/`,
    port,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      model: { type: 'string', default: join(repoRoot, 'out', 'flowers') },
      samples: {
        type: 'string',
        default: process.env.WGSL_NN_DATA_DIR ?? join(repoRoot, '..', 'shared', 'data', 'flower_photos'),
      },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port must be an integer 0..65535, got ${values.port}`);
    process.exit(2);
  }
  const missing = ['model.json', 'model.safetensors', 'flowers.json'].filter(
    (f) => !existsSync(join(values.model, f)),
  );
  if (missing.length > 0) {
    console.error(
      `error: no trained model in ${values.model} (missing ${missing.join(', ')}).\n` +
        'Run `npm run flowers` first to train one (it writes out/flowers/), or point the demo at ' +
        'another folder written by it: npm run web -- --model DIR',
    );
    process.exit(2);
  }
  const s = await startServer({
    port,
    host: values.host,
    modelDir: values.model,
    samplesDir: values.samples,
  });
  console.log(`wgsl-nn web demo: ${s.url}  (model: ${values.model}; Ctrl+C to stop)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  });
}
