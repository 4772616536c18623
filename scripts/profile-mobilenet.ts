// Per-dispatch kernel times of one MobileNetV2 inference (192x192, batch $B, default 64), in
// dispatch order, then per kernel family. Uses the ImageNet backbone in ../shared/weights when
// present (random weights otherwise: the same cost). `npx tsx scripts/profile-mobilenet.ts`.
// Times are from timestamp queries with every dispatch in its own pass (see profile.ts).
import { existsSync } from 'node:fs';
import {
  getDevice,
  loadMobileNetV2Weights,
  mobileNetV2,
  randomUniform,
  sync,
  type Tensor,
  tidy,
} from '../src/node.js';
import { currentDevice } from '../src/tensor/device.js';
import { DISPATCHES_PER_BATCH, setDispatchTimer } from '../src/tensor/queue.js';

await getDevice();
const B = Number(process.env.B ?? 64);
const m = mobileNetV2({ inputShape: [192, 192, 3], includeTop: false });
const weights = '../shared/weights/mobilenet_v2/mobilenet_v2_1.0_224_no_top.safetensors';
if (existsSync(weights)) await loadMobileNetV2Weights(m, { backbone: weights });
const x = randomUniform([B, 192, 192, 3], -1, 1, { seed: 1 });
const run = () => tidy(() => m.apply(x, { training: false }) as Tensor);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  run().dispose();
  await sync();
  console.log(`unprofiled pass ${i}: ${(performance.now() - t0).toFixed(0)} ms`);
}
const device = currentDevice();
const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * DISPATCHES_PER_BATCH });
const resolve = device.createBuffer({ size: 16 * DISPATCHES_PER_BATCH, usage: 0x200 | 0x04 });
const batches: { keys: string[]; read: GPUBuffer }[] = [];
setDispatchTimer({ querySet, resolve, batch: (keys, read) => batches.push({ keys: [...keys], read }) });
run().dispose();
await sync();
setDispatchTimer(undefined);
const rows: { key: string; ms: number }[] = [];
for (const b of batches) {
  await b.read.mapAsync(1);
  const ts = new BigUint64Array(b.read.getMappedRange());
  b.keys.forEach((k, j) => {
    rows.push({ key: k.split('\n', 1)[0].slice(0, 160), ms: Number(ts[2 * j + 1] - ts[2 * j]) / 1e6 });
  });
  b.read.unmap();
}
const family = new Map<string, { calls: number; ms: number }>();
rows.forEach((r, i) => {
  console.log(i, r.ms.toFixed(2), r.key);
  const name = r.key.split(' ', 1)[0];
  const f = family.get(name) ?? { calls: 0, ms: 0 };
  f.calls++;
  f.ms += r.ms;
  family.set(name, f);
});
const total = rows.reduce((a, r) => a + r.ms, 0);
console.log(`total kernel ms ${total.toFixed(1)} in ${rows.length} dispatches`);
for (const [name, f] of [...family].sort((a, b) => b[1].ms - a[1].ms))
  console.log(`${name.padEnd(20)} ${String(f.calls).padStart(4)} ${f.ms.toFixed(1).padStart(8)} ms`);
querySet.destroy();
resolve.destroy();
x.dispose();
m.dispose();
