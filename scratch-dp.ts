import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DecodePool } from './src/data/worker-pool.js';
import { runDecodeJob } from './src/data/decode-worker.js';
const root = '../shared/data/flower_photos';
const files: string[] = [];
for (const c of readdirSync(root)) { try { for (const f of readdirSync(join(root, c))) if (f.endsWith('.jpg')) files.push(join(root, c, f)); } catch {} }
const list = files.slice(0, 2640);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const mode = process.argv[2];
const t0 = performance.now(); const c0 = cpu();
if (mode === 'inline') {
  for (const p of list) await runDecodeJob({ path: p, height: 192, width: 192 });
} else {
  const pool = new DecodePool({ size: Number(process.env.W ?? 2) });
  let i = 0;
  const lane = async () => { while (i < list.length) { const p = list[i++]; await pool.run({ path: p, height: 192, width: 192 }); } };
  await Promise.all([lane(), lane(), lane(), lane()]);
  console.log('pool done', ((performance.now() - t0) / 1000).toFixed(2), 'cpu', ((cpu() - c0) / 1000).toFixed(2));
  await pool.close();
}
console.log(mode, list.length, 'imgs', ((performance.now() - t0) / 1000).toFixed(2), 's cpu', ((cpu() - c0) / 1000).toFixed(2));
