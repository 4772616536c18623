import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeAndResize } from './decode.js';
import { ImageDecodeError } from './errors.js';
import type { DecodeJob, WorkerReply, WorkerRequest } from './worker-pool.js';

/**
 * The body of one decode worker thread (started by `DecodePool`): reads a file, decodes and
 * resizes it, and writes the float32 pixels into the shared memory the request gave, or sends them
 * back by transferring their buffer (no copy).
 */

/**
 * Reads, decodes and resizes one file; shared by the workers and the in-thread path. `into`, if
 * given, receives the pixels (its length must be the output's).
 */
export async function runDecodeJob(
  job: DecodeJob,
  into?: Float32Array,
): Promise<{ pixels: Float32Array; srcWidth: number; srcHeight: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(job.path);
  } catch (e) {
    throw new ImageDecodeError(job.path, `cannot read the file (${(e as Error).message})`);
  }
  return decodeAndResize(
    bytes,
    {
      path: job.path,
      size: [job.height, job.width],
      cropToAspectRatio: job.cropToAspectRatio,
      padToAspectRatio: job.padToAspectRatio,
      maxPixels: job.maxPixels,
      interpolation: job.interpolation,
      antialias: job.antialias,
      dctMethod: job.dctMethod,
      applyExifOrientation: job.applyExifOrientation,
    },
    into,
  );
}

const port = parentPort;
// Only in a thread started by DecodePool (test runners may load this file inside their own workers).
if (port && (workerData as { wgslNnDecodeWorker?: boolean } | null)?.wgslNnDecodeWorker) {
  port.on('message', async (msg: WorkerRequest) => {
    let reply: WorkerReply;
    const transfer: ArrayBuffer[] = [];
    try {
      const r = await runDecodeJob(msg.job, msg.into);
      if (msg.into) reply = { id: msg.id, ok: true, srcWidth: r.srcWidth, srcHeight: r.srcHeight };
      else {
        reply = { id: msg.id, ok: true, pixels: r.pixels, srcWidth: r.srcWidth, srcHeight: r.srcHeight };
        transfer.push(r.pixels.buffer as ArrayBuffer);
      }
    } catch (e) {
      const reason =
        e instanceof ImageDecodeError ? e.reason : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      reply = { id: msg.id, ok: false, reason };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
}
