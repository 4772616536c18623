import { Worker } from 'node:worker_threads';
const w = new Worker(new URL('./scratch-dp.mjs', import.meta.url), { argv: ['inline'] });
await new Promise((r) => w.on('exit', r));
