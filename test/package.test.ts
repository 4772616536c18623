import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The published package, as a user gets it: `npm pack` (which builds dist/ through `prepack`) in a
 * copy of the repository, so this test never races with other tests over the repository's own
 * dist/; then `npm install <tarball>` into a fresh project, which runs the README example, imports
 * the Node-only helpers, type-checks a TypeScript file against the shipped .d.ts files, and finds
 * the browser bundle through the package's "browser" export.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(tmpdir(), `wgsl-nn-pack-${process.pid}`);
const project = join(work, 'project');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const node = (args: string[], cwd: string) =>
  execFileSync(process.execPath, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function readmeExample(): string {
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /```ts\n([\s\S]*?)```/.exec(md.slice(md.indexOf('## A first program')));
  if (!m) throw new Error('README.md has no ```ts example under "## A first program"');
  return m[1];
}

let tarball = '';

beforeAll(() => {
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  for (const f of ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json']) {
    cpSync(join(root, f), join(src, f));
  }
  for (const d of ['src', 'scripts']) cpSync(join(root, d), join(src, d), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'));
  const packed = npm(['pack', '--silent', '--pack-destination', work], src).trim().split('\n').pop()!;
  tarball = join(work, packed);
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    '{ "name": "uses-wgsl-nn", "private": true, "type": "module" }\n',
  );
  // --prefer-offline: the dependencies are in npm's cache after `npm ci`; the registry is the fallback.
  npm(['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], project);
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm package', () => {
  it('ships dist/ with .js and .d.ts for every module, the browser bundle and src/, and no tests', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(files).toContain('package/dist/node.js');
    expect(files).toContain('package/dist/node.d.ts');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/dist/browser/wgsl-nn.js');
    expect(files).toContain('package/dist/data/decode-worker.js');
    expect(files.filter((f) => !f.startsWith('package/dist/'))).toEqual(
      expect.arrayContaining(['package/package.json', 'package/README.md']),
    );
    expect(files.filter((f) => /\/(test|bench|examples|scripts)\//.test(f))).toEqual([]);
    // TypeScript sources only under src/ (shipped for the source maps, issue 15 bug 7).
    expect(
      files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('package/src/')),
    ).toEqual([]);
    const js = files.filter((f) => f.endsWith('.js') && !f.includes('/browser/'));
    for (const f of js) expect(files, `${f} has no .d.ts`).toContain(f.replace(/\.js$/, '.d.ts'));
  });

  // Issue 15, bug 7: the maps pointed at ../../src/*.ts, which was not shipped.
  it('every source map names files the package ships, or embeds their text', () => {
    const pkg = join(project, 'node_modules', 'wgsl-nn');
    const maps = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.map'))
      .map((f) => f.slice('package/'.length));
    expect(maps.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(pkg, m), 'utf8')) as {
        sources: string[];
        sourceRoot?: string;
        sourcesContent?: Array<string | null>;
      };
      map.sources.forEach((s, i) => {
        const file = join(pkg, dirname(m), map.sourceRoot ?? '', s);
        if (!existsSync(file) && typeof map.sourcesContent?.[i] !== 'string') missing.push(`${m}: ${s}`);
      });
    }
    expect(missing).toEqual([]);
  });

  // Issue 15, bug 5: the package ships a bin; the no-adapter error points at it.
  it('runs `npx wgsl-nn doctor` from the installed package', () => {
    const r = spawnSync('npx', ['--no-install', 'wgsl-nn', 'doctor'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^wgsl-nn doctor \(wgsl-nn \d+\.\d+\.\d+\)$/m);
    expect(r.stdout).toMatch(/^ {2}Adapter: \S/m);
    expect(r.stdout).toContain('= [11,22,33]');
    // Issue 15, bug 10: Dawn's two native warnings are filtered from the doctor's output.
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/^Warning: maxDynamic/m);
    const help = spawnSync('npx', ['--no-install', 'wgsl-nn', 'help'], { cwd: project, encoding: 'utf8' });
    expect(help.stdout).toContain('install-driver');
  }, 150_000);

  it('runs the README example from the installed package', () => {
    const code = readmeExample();
    const expected = [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => JSON.parse(m[1]) as unknown);
    writeFileSync(join(project, 'readme.mjs'), code);
    const out = node(['readme.mjs'], project).trim().split('\n');
    // Node's console.log prints arrays with spaces; compare values, not text.
    const printed = out.map((l) => JSON.parse(l.replaceAll(/\s+/g, '')) as unknown);
    expect(printed.length).toBe(expected.length);
    printed.forEach((p, i) => {
      const e = expected[i];
      const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);
      const [a, b] = [flat(p), flat(e)];
      expect(a.length).toBe(b.length);
      a.forEach((v, j) => {
        expect(v).toBeCloseTo(b[j], 5);
      });
    });
  }, 60_000);

  it('runs a guide example (Coming from TensorFlow.js: ops as methods) from the installed package', () => {
    const md = readFileSync(join(root, 'docs', 'coming-from-tensorflow-js.md'), 'utf8');
    const m = /```ts\n([\s\S]*?)```/.exec(md);
    if (!m) throw new Error('docs/coming-from-tensorflow-js.md has no ```ts example');
    const expected = [...m[1].matchAll(/\/\/ prints: (.*)$/gm)].flatMap((e) => e[1].split('\\n'));
    writeFileSync(join(project, 'guide.ts'), m[1]);
    // TypeScript source: run through tsx's loader (from this checkout), resolving wgsl-nn from the project.
    const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const out = node(['--import', tsx, 'guide.ts'], project).trim().split('\n');
    expect(out).toEqual(expected);
  }, 60_000);

  it('exports the Node helpers and loads the browser bundle through the "browser" condition', () => {
    const script = `
      import * as w from 'wgsl-nn';
      import { fileURLToPath } from 'node:url';
      const names = ['imageDatasetFromDirectory', 'DecodePool', 'readSafetensorsFile', 'loadModel', 'Sequential', 'mobileNetV2'];
      console.log(JSON.stringify(names.filter((n) => typeof w[n] !== 'function')));
      console.log(fileURLToPath(import.meta.resolve('wgsl-nn/browser')));
    `;
    writeFileSync(join(project, 'exports.mjs'), script);
    const [missing, bundle] = node(['exports.mjs'], project).trim().split('\n');
    expect(JSON.parse(missing)).toEqual([]);
    expect(bundle.endsWith(join('wgsl-nn', 'dist', 'browser', 'wgsl-nn.js'))).toBe(true);
    const viaCondition = node(
      ['--conditions=browser', '-e', "console.log(import.meta.resolve('wgsl-nn'))", '--input-type=module'],
      project,
    ).trim();
    expect(viaCondition.endsWith('/dist/browser/wgsl-nn.js')).toBe(true);
    expect(readFileSync(bundle, 'utf8')).not.toMatch(
      /from\s*["']node:|require\(["'](fs|path|zlib|stream)["']\)/,
    );
  }, 60_000);

  // Issue 15, bug 6: dispose(batch) with an ImageBatch did not type-check, and TypeScript 7 with
  // skipLibCheck: false reported 182 errors (the @webgpu/types reference against its lib.dom).
  it.each([
    ['typescript', false],
    ['typescript', true],
    ['typescript-7', false],
    ['typescript-7', true],
  ] as const)(
    'type-checks a program against the shipped declarations with %s (5.x / 7.x), skipLibCheck %s',
    (pkg, skipLibCheck) => {
      const dir = join(project, `${pkg}-${skipLibCheck}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'main.ts'),
        [
          "import { Dense, dispose, getDevice, imageDatasetFromDirectory, Sequential, type Tensor, tensor } from 'wgsl-nn';",
          'const m = new Sequential([new Dense({ units: 2, inputShape: [3] })]);',
          "m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });",
          'const t: Tensor = tensor([1, 2, 3], [1, 3]);',
          'export const shape: readonly number[] = t.shape;',
          '// @ts-expect-error: units must be a number',
          "new Dense({ units: 'two' });",
          'export async function batches(dir: string): Promise<number> {',
          '  const ds = await imageDatasetFromDirectory(dir, { imageSize: [64, 64], batchSize: 8 });',
          '  for await (const batch of ds) dispose(batch);',
          '  const device: GPUDevice = await getDevice();',
          '  return device.limits.maxStorageBufferBindingSize;',
          '}',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noEmit: true,
            target: 'ES2022',
            skipLibCheck,
            types: [],
          },
          files: ['main.ts'],
        }),
      );
      const tsc = join(root, 'node_modules', pkg, 'bin', 'tsc');
      const version = node([tsc, '--version'], dir).trim();
      expect(version).toMatch(pkg === 'typescript' ? /^Version 5\./ : /^Version 7\./);
      let output = '';
      try {
        output = node([tsc, '-p', '.'], dir);
      } catch (e) {
        output = `${(e as { stdout?: string }).stdout ?? ''}${(e as Error).message}`;
      }
      expect(output).toBe('');
      expect(existsSync(join(project, 'node_modules', 'wgsl-nn', 'dist', 'node.d.ts'))).toBe(true);
      expect(readdirSync(join(project, 'node_modules', 'wgsl-nn'))).toEqual(
        expect.arrayContaining(['dist', 'package.json', 'README.md']),
      );
    },
    60_000,
  );
});
