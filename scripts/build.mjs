// Builds the package: `dist/*.js` + `.d.ts` (tsc, one file per module, for Node and bundlers) and
// `dist/browser/wgsl-nn.js`, one ESM file with the browser-safe core (src/index.ts) for <script
// type="module"> and import maps. Node-only modules that the core loads lazily (file helpers,
// node:os) are replaced in the browser bundle by modules whose functions throw a clear error; the
// build fails if any other Node import reaches it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = performance.now();
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});

// TypeScript < 6 has no WebGPU types in lib.dom: its entry points (the "types@<6" export
// conditions) reference @webgpu/types and re-export the declarations. TypeScript >= 6 reads the
// plain ones, which name GPU types only through the empty global interfaces of tensor/device.ts
// (a reference there would collide with lib.dom's WebGPU declarations).
mkdirSync(join(root, 'dist/ts5'), { recursive: true });
for (const entry of ['node', 'index']) {
  writeFileSync(
    join(root, `dist/ts5/${entry}.d.ts`),
    `/// <reference types="@webgpu/types" />\nexport * from '../${entry}.js';\n`,
  );
}

// Modules of src/ that the core imports lazily and that only work in Node.
const NODE_ONLY = new Set(['io/weights-file.ts', 'data/file-cache.ts', 'io/node-fs.ts', 'io/hdf5-write.ts']);

/** A module exporting the same function names as `file`, each throwing "needs Node". */
function nodeOnlyStub(file) {
  const names = [...readFileSync(file, 'utf8').matchAll(/^export (?:async )?function (\w+)/gm)].map(
    (m) => m[1],
  );
  const body = names.map(
    (n) =>
      `export function ${n}() { throw new Error("wgsl-nn: ${n}() uses the file system and needs Node; in a browser load models from URLs (loadModel('/path/model.json')) and keep datasets in memory"); }`,
  );
  return body.join('\n');
}

const browserPlugin = {
  name: 'node-only',
  setup(build) {
    // pngjs ships a browserified build with its own zlib; our png.ts reaches Buffer through the shim.
    build.onResolve({ filter: /^pngjs$/ }, () => ({ path: join(root, 'node_modules/pngjs/browser.js') }));
    // device.ts reads these only when it runs in Node (lavapipe defaults).
    build.onResolve({ filter: /^node:(os|fs)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    build.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      contents:
        args.path === 'node:os'
          ? "export function availableParallelism() { return 1; }\nexport function platform() { return 'browser'; }"
          : 'export function existsSync() { return false; }\nexport function readFileSync() { throw new Error("no file system in a browser"); }',
      loader: 'js',
    }));
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const rel = args.path.slice(join(root, 'src').length + 1).replaceAll('\\', '/');
      if (!NODE_ONLY.has(rel)) return undefined;
      return { contents: nodeOnlyStub(args.path), loader: 'js' };
    });
    build.onResolve({ filter: /^(node:|fs$|path$|os$|worker_threads$|crypto$)/ }, (args) => ({
      errors: [
        { text: `Node module ${args.path} imported by ${args.importer}: keep it out of the browser core` },
      ],
    }));
  },
};

const out = join(root, 'dist/browser/wgsl-nn.js');
const result = await esbuild.build({
  entryPoints: [join(root, 'src/index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: out,
  sourcemap: true,
  minify: false,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [browserPlugin],
  inject: [join(root, 'scripts/browser-shims/buffer.js')],
});
const kb = (statSync(out).size / 1024).toFixed(0);
const inputs = Object.keys(result.metafile.inputs).length;
console.log(
  `built dist/ (tsc: .js + .d.ts) and dist/browser/wgsl-nn.js (${kb} KiB, ${inputs} modules) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
