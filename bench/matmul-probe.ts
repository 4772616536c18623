/**
 * What limits a matmul on a software adapter (lavapipe): one stand-alone subgroup tile kernel
 * (the shape of src/kernels/matmul-variants.ts' tile, with every size baked in and no edge
 * clamps), timed on square fp32 products and checked against a float64 dot product on sampled
 * outputs. Its knobs are the ones the findings in bench/README.md ("Where lavapipe's time goes")
 * were measured with:
 *
 *   MR  rows of C per subgroup (default 32)       KS  k per loop iteration, 4 | 8 | 16 (default 4)
 *   SG  lanes per subgroup the kernel assumes      NN  the product's size (default 2048)
 *       (8 with lavapipe's default 256-bit vectors; 16 with LP_NATIVE_VECTOR_WIDTH=512)
 *
 *   npx tsx bench/matmul-probe.ts
 *   LP_NATIVE_VECTOR_WIDTH=512 SG=16 MR=64 npx tsx bench/matmul-probe.ts
 *   MESA_SHADER_CACHE_DISABLE=true GALLIVM_DEBUG=asm NN=256 npx tsx bench/matmul-probe.ts > asm.txt
 *
 * The last line dumps the x86 code lavapipe generates (count `vmulps`/`vaddps`/`vfmadd`/`vblendvps`
 * in the compute shader's `cs_co_variant`). Not a test and not part of `npm run bench`: a probe.
 */
import { getDevice } from '../src/node.js';

const env = (k: string, d: number): number => {
  const v = Number(process.env[k] ?? d);
  if (!Number.isInteger(v) || v <= 0)
    throw new Error(`matmul-probe: ${k} must be a positive integer, got ${process.env[k]}`);
  return v;
};
const n = env('NN', 2048);
const MR = env('MR', 32);
const KS = env('KS', 4);
const SG = env('SG', 8);
if (n % MR || n % (4 * SG) || n % KS || KS % 4 || MR % SG)
  throw new Error(
    `matmul-probe: NN=${n} must be a multiple of MR=${MR}, 4*SG=${4 * SG} and KS=${KS}; KS of 4, MR of SG`,
  );

/** WGSL of the tile kernel: lane `sgi` owns 4 columns, the subgroup MR rows, A shared by broadcast. */
function kernel(): string {
  const X = 'xyzw';
  let pre = '';
  let body = '';
  let decl = '';
  let store = '';
  for (let u = 0; u < MR / SG; u++) pre += `  let ar${u} = (m0 + sgi + ${SG * u}u) * ${n / 4}u;\n`;
  for (let h = 0; h < KS / 4; h++) {
    for (let u = 0; u < MR / SG; u++) body += `    let aq${u}_${h} = a[ar${u} + k / 4u + ${h}u];\n`;
    for (let i = 0; i < 4; i++) body += `    let bq${h}_${i} = b[(k + ${4 * h + i}u) * ${n / 4}u + n4];\n`;
  }
  // One nested expression per row (row-major order: see matmul-variants.ts).
  for (let r = 0; r < MR; r++) {
    let x = `acc${r}`;
    for (let h = 0; h < KS / 4; h++)
      for (let i = 0; i < 4; i++)
        x = `fma(vec4f(subgroupBroadcast(aq${Math.floor(r / SG)}_${h}.${X[i]}, ${r % SG}u)), bq${h}_${i}, ${x})`;
    body += `    acc${r} = ${x};\n`;
    decl += `  var acc${r} = vec4f(0.0);\n`;
    store += `  c[(m0 + ${r}u) * ${n / 4}u + n4] = acc${r};\n`;
  }
  return `enable subgroups;
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4f>;
@compute @workgroup_size(${SG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) sgi: u32) {
  let m0 = wid.x * ${MR}u;
  let n4 = wid.y * ${SG}u + sgi;
${pre}${decl}  for (var k = 0u; k < ${n}u; k += ${KS}u) {
${body}  }
${store}}`;
}

const dev = await getDevice();
const rand = (len: number, seed: number) => {
  let s = seed;
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
};
const a = rand(n * n, 1);
const b = rand(n * n, 2);
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const upload = (d: Float32Array<ArrayBuffer>) => {
  const buf = dev.createBuffer({ size: d.byteLength, usage });
  dev.queue.writeBuffer(buf, 0, d);
  return buf;
};
const ga = upload(a);
const gb = upload(b);
const gc = dev.createBuffer({ size: n * n * 4, usage });
const module = dev.createShaderModule({ code: kernel() });
const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const group = dev.createBindGroup({
  layout: pipeline.getBindGroupLayout(0),
  entries: [ga, gb, gc].map((buffer, binding) => ({ binding, resource: { buffer } })),
});
async function run(): Promise<number> {
  const t0 = performance.now();
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(n / MR, n / (4 * SG));
  pass.end();
  dev.queue.submit([enc.finish()]);
  await dev.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}
await run();
const ms = Math.min(await run(), await run(), await run());
const read = dev.createBuffer({ size: n * n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const enc = dev.createCommandEncoder();
enc.copyBufferToBuffer(gc, 0, read, 0, n * n * 4);
dev.queue.submit([enc.finish()]);
await read.mapAsync(GPUMapMode.READ);
const out = new Float32Array(read.getMappedRange());
let err = 0;
for (let t = 0; t < 64; t++) {
  const i = (t * 7919) % n;
  const j = (t * 104729) % n;
  let s = 0;
  for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
  err = Math.max(err, Math.abs(s - out[i * n + j]));
}
const width = process.env.LP_NATIVE_VECTOR_WIDTH ?? 'default';
console.log(
  `matmul-probe ${n}^3 MR=${MR} KS=${KS} SG=${SG} vector width ${width}: ${ms.toFixed(0)} ms, ` +
    `${((2 * n ** 3) / ms / 1e6).toFixed(1)} GFLOP/s, max abs error ${err.toExponential(1)} (64 sampled outputs)`,
);
if (err > 1e-3) process.exitCode = 1;
process.exit();
