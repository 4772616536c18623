/**
 * The web demo's server (examples/web/server.ts) without a browser: what it serves, what it
 * refuses (paths outside its folders), and the CLI's message when the model folder is missing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../examples/web/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const tmp = join(here, '..', '.tmp', `web-server-${process.pid}`);

/** GET with the path sent as is (fetch would normalise `..` away before it leaves the client). */
function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

describe('web demo server', () => {
  let server: RunningServer;
  beforeAll(async () => {
    mkdirSync(join(tmp, 'model'), { recursive: true });
    mkdirSync(join(tmp, 'photos', 'daisy'), { recursive: true });
    mkdirSync(join(tmp, 'photos', 'roses'), { recursive: true });
    writeFileSync(join(tmp, 'model', 'flowers.json'), '{"classNames":["a","b"]}\n');
    writeFileSync(join(tmp, 'secret.txt'), 'not for the web\n');
    for (const f of ['a.jpg', 'b.jpg', 'c.jpg']) writeFileSync(join(tmp, 'photos', 'daisy', f), f);
    writeFileSync(join(tmp, 'photos', 'roses', 'r.png'), 'r');
    writeFileSync(join(tmp, 'photos', 'roses', 'notes.txt'), 'n');
    server = await startServer({
      port: 0,
      modelDir: join(tmp, 'model'),
      samplesDir: join(tmp, 'photos'),
      samplesPerClass: 2,
      ensureBundle: false,
      log: () => {},
    });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('serves the page, its bundle, the model folder and a few sample photos', async () => {
    const page = await get(server.port, '/');
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.body).toContain('"wgsl-nn": "/wgsl-nn.js"');
    const app = await get(server.port, '/app.js');
    expect(app.status).toBe(200);
    // The page's bundle imports the library from the browser bundle instead of inlining it.
    expect(app.body).toMatch(/from\s*"\/wgsl-nn\.js"/);
    expect(app.body).not.toContain('function runKernel');
    expect((await get(server.port, '/model/flowers.json')).body).toContain('classNames');
    const idx = JSON.parse((await get(server.port, '/samples/index.json')).body);
    expect(idx).toEqual({ classes: { daisy: ['a.jpg', 'b.jpg'], roses: ['r.png'] } });
    expect((await get(server.port, '/samples/daisy/a.jpg')).status).toBe(200);
    expect((await get(server.port, '/samples/daisy/c.jpg')).status).toBe(404);
    expect((await get(server.port, '/samples/roses/notes.txt')).status).toBe(404);
    expect((await get(server.port, '/model/missing.json')).status).toBe(404);
    expect((await get(server.port, '/nothing')).status).toBe(404);
    expect((await get(server.port, '/', 'POST')).status).toBe(405);
  });

  it('refuses paths that leave the served folders', async () => {
    for (const path of [
      '/model/../secret.txt',
      '/model/..%2fsecret.txt',
      '/model/%2e%2e/secret.txt',
      '/model/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/model/..%5csecret.txt',
      '/samples/daisy/..%2f..%2fsecret.txt',
      '/model/%00flowers.json',
    ]) {
      const res = await get(server.port, path);
      expect([400, 403, 404], path).toContain(res.status);
      expect(res.body, path).not.toContain('not for the web');
    }
    expect((await get(server.port, '/model/..%2fsecret.txt')).status).toBe(403);
    expect((await get(server.port, '/model/%E0%A4%A')).status).toBe(400);
  });

  it('explains a missing model folder and a bad port', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', 'web', 'server.ts'), ...args], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const missing = run('--model', join(tmp, 'nowhere'), '--port', '0');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nowhere');
    expect(missing.stderr).toContain('npm run flowers');
    expect(missing.stderr).toContain('npm run web -- --model DIR');
    const port = run('--port', 'http');
    expect(port.status).toBe(2);
    expect(port.stderr).toContain('--port must be an integer');
  });
});
