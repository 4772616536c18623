#!/usr/bin/env node
/**
 * `npm run device-bundle`: packs into `.devbundle/` (git-ignored) everything that
 * `bash .devbundle/run.sh` needs to run the GPU check and the bench on a machine that has a GPU
 * but no Node.js, no npm packages and no network (the machines lent by the development
 * environment's `device` tool): this Node.js binary, the GPU check and the bench as two esbuild
 * bundles (the library, TF.js and the oracles inside), Dawn's native module, onnxruntime-web's
 * modules and wasm files, the MobileNetV2 weights and Debian's Vulkan loader package. The large
 * files go in xz-compressed; run.sh unpacks them there. The bundle plus the tracked files must stay
 * under the 64 MiB that such a call may carry; the script prints the total and fails above it.
 *
 * Options: `--weights FILE` (default: $WGSL_NN_WEIGHTS_DIR, else ../shared/weights/mobilenet_v2),
 * `--no-vulkan-deb` (skip `apt-get download libvulkan1`). The bundle is built in a temporary
 * folder and renamed into place, so a failed run leaves the previous bundle as it was.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT = 64 * 2 ** 20;
const WEIGHTS_FILE = 'mobilenet_v2_1.0_224_no_top.safetensors';

function parseArgs(argv) {
  const a = { weights: undefined, vulkanDeb: true };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--weights') a.weights = argv[++i];
    else if (argv[i] === '--no-vulkan-deb') a.vulkanDeb = false;
    else {
      console.error(`device-bundle: unknown argument ${argv[i]} (use --weights FILE, --no-vulkan-deb)`);
      process.exit(2);
    }
  }
  return a;
}

function weightsPath(given) {
  if (given) return given;
  const dir = process.env.WGSL_NN_WEIGHTS_DIR ?? join(root, '..', 'shared', 'weights');
  const nested = join(dir, 'mobilenet_v2', WEIGHTS_FILE);
  return existsSync(nested) ? nested : join(dir, WEIGHTS_FILE);
}

/** Writes `src` xz-compressed to `dest` (`dest` ends in .xz). */
function xz(src, dest) {
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, execFileSync('xz', ['-6', '-T2', '-c', src], { maxBuffer: 2 ** 30 }));
}

function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + sizeOf(join(path, f)), 0);
}

/** The two programs, bundled for Node 20 with the packages that cannot be bundled left outside. */
async function bundle(out) {
  await build({
    entryPoints: { 'gpu-check': join(root, 'scripts', 'gpu-check.ts'), bench: join(root, 'bench', 'run.ts') },
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Native or wasm-backed packages travel as files (node_modules below); esbuild is only
    // imported by the bench outside a bundle (bench/peer-tfjs.ts).
    external: ['webgpu', 'onnxruntime-web', 'onnxruntime-web/webgpu', 'onnxruntime-node', 'esbuild'],
    // tfjs-core's Node build is CommonJS and calls require(); bench/peer-tfjs.ts reads the flag.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url); globalThis.WGSL_NN_BUNDLED = true;",
    },
    logLevel: 'warning',
  });
}

/** Dawn's module for linux-x64 (its native part compressed) and onnxruntime-web's files. */
function packages(out) {
  const nm = join(root, 'node_modules');
  const dawn = join(out, 'node_modules', 'webgpu');
  mkdirSync(join(dawn, 'dist', 'linux-x64'), { recursive: true });
  for (const f of ['package.json', 'index.js']) copyFileSync(join(nm, 'webgpu', f), join(dawn, f));
  xz(join(nm, 'webgpu', 'dist', 'linux-x64', 'dawn.node'), join(dawn, 'dist', 'linux-x64', 'dawn.node.xz'));

  const ort = join(out, 'node_modules', 'onnxruntime-web');
  mkdirSync(join(ort, 'dist'), { recursive: true });
  copyFileSync(join(nm, 'onnxruntime-web', 'package.json'), join(ort, 'package.json'));
  // The Node entry (wasm EP) and the WebGPU entry the bench imports, with the glue and the
  // wasm binaries they load (ort-wasm-simd-threaded and its .asyncify build).
  for (const f of readdirSync(join(nm, 'onnxruntime-web', 'dist'))) {
    const src = join(nm, 'onnxruntime-web', 'dist', f);
    if (
      ['ort.node.min.mjs', 'ort.webgpu.bundle.min.mjs'].includes(f) ||
      /^ort-wasm-simd-threaded(\.asyncify)?\.mjs$/.test(f)
    )
      copyFileSync(src, join(ort, 'dist', f));
    else if (/^ort-wasm-simd-threaded(\.asyncify)?\.wasm$/.test(f)) xz(src, join(ort, 'dist', `${f}.xz`));
  }
  cpSync(join(nm, 'onnxruntime-common'), join(out, 'node_modules', 'onnxruntime-common'), {
    recursive: true,
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dest = join(root, '.devbundle');
  const tmp = join(root, '.devbundle.tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  console.log('device-bundle: bundling the GPU check and the bench ...');
  await bundle(tmp);
  for (const f of ['gpu-check.mjs', 'bench.mjs']) {
    xz(join(tmp, f), join(tmp, `${f}.xz`));
    rmSync(join(tmp, f));
  }
  console.log('device-bundle: Dawn and onnxruntime-web ...');
  packages(tmp);
  console.log(`device-bundle: Node.js ${process.version} (${process.execPath}) ...`);
  xz(process.execPath, join(tmp, 'node.xz'));
  const weights = weightsPath(args.weights);
  if (existsSync(weights)) xz(weights, join(tmp, 'weights', 'mobilenet_v2', `${WEIGHTS_FILE}.xz`));
  else
    console.warn(
      `device-bundle: no weights at ${weights}: the bench's MobileNetV2 cases will be skipped there`,
    );
  if (args.vulkanDeb) {
    try {
      execFileSync('apt-get', ['download', 'libvulkan1'], { cwd: tmp, stdio: 'pipe' });
    } catch (e) {
      console.warn(
        `device-bundle: apt-get download libvulkan1 failed (${String(e).split('\n')[0]}); run.sh then needs the machine's own loader`,
      );
    }
  }
  copyFileSync(join(root, 'scripts', 'device-check.sh'), join(tmp, 'run.sh'));
  writeFileSync(
    join(tmp, 'manifest.json'),
    `${JSON.stringify({ built: new Date().toISOString(), node: process.version, commit: gitHead() }, null, 1)}\n`,
  );
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);

  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root })
    .toString()
    .split('\0')
    .filter((f) => f && existsSync(join(root, f)))
    .reduce((s, f) => s + statSync(join(root, f)).size, 0);
  const packed = sizeOf(dest);
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  console.log(
    `device-bundle: ${relative(root, dest)}/ ${mib(packed)} MiB + tracked files ${mib(tracked)} MiB = ${mib(packed + tracked)} MiB (limit 64)`,
  );
  if (packed + tracked > LIMIT) {
    console.error('device-bundle: over the 64 MiB a device call carries');
    return 1;
  }
  console.log("device-bundle: on the device machine: run `bash .devbundle/run.sh` with carry ['.devbundle']");
  return 0;
}

function gitHead() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root }).toString().trim();
  } catch {
    return 'unknown';
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`device-bundle: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
