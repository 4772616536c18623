import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import jpeg from 'jpeg-js';
import { decodeImage, resizeImageCpu } from '../src/index.js';
import { fixtureBytes, manifest } from '../test/fixtures/images/load.js';
import { fmt, markdownTable, median } from './harness.js';
import { encodeJpeg } from './jpeg-encode.js';

/**
 * JPEG decode speed and accuracy (`--filter decode`, also in the default run): images/s on one
 * thread for a 224x224 and a 1024x768 4:2:0 JPEG (quality 90, made by bench/jpeg-encode.ts from a
 * flower photo or a synthetic image), and the largest difference from TensorFlow's pixels over the
 * reference fixtures (test/fixtures/images: `fast` = tf.io.decode_jpeg's default, `accurate` =
 * INTEGER_ACCURATE = libjpeg-turbo's default). Sides: the old path (jpeg-js), ours with each IDCT,
 * and, when `WGSL_NN_BENCH_PEERS` names a folder whose node_modules has them, the peers we
 * considered: sharp (native libjpeg-turbo via libvips, concurrency 1) and @jsquash/jpeg (MozJPEG
 * compiled to WASM). Install those with `npm i --prefix <folder> sharp @jsquash/jpeg`.
 */

type Decode = (bytes: Uint8Array) => Promise<Uint8Array>;
interface Decoder {
  name: string;
  decode: Decode;
}

export interface DecodeRow {
  decoder: string;
  /** images/s per input name. */
  rate: Record<string, number>;
  /** Largest |ours - TF| over the RGB fixtures, for TF's default and accurate IDCT. */
  maxVsFast: number;
  maxVsAccurate: number;
}

const rgbOf = (rgba: Uint8Array | Uint8ClampedArray, n: number): Uint8Array => {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rgba[i * 4];
    out[i * 3 + 1] = rgba[i * 4 + 1];
    out[i * 3 + 2] = rgba[i * 4 + 2];
  }
  return out;
};

async function peers(): Promise<Decoder[]> {
  const dir = process.env.WGSL_NN_BENCH_PEERS;
  if (!dir) return [];
  const req = createRequire(join(dir, 'package.json'));
  const out: Decoder[] = [];
  try {
    type Sharp = ((b: Uint8Array) => {
      raw(): {
        toBuffer(o: { resolveWithObject: true }): Promise<{ data: Uint8Array; info: { channels: number } }>;
      };
    }) & { concurrency(n: number): void; cache(b: boolean): void };
    const sharp = req('sharp') as Sharp;
    sharp.concurrency(1);
    sharp.cache(false);
    out.push({
      name: 'sharp (libvips + libjpeg-turbo, native)',
      decode: async (b) => {
        const { data, info } = await sharp(b).raw().toBuffer({ resolveWithObject: true });
        return info.channels === 3 ? data : rgbOf(data, data.length / info.channels);
      },
    });
  } catch (e) {
    console.log(`bench decode: sharp not loaded (${(e as Error).message.split('\n')[0]})`);
  }
  try {
    const entry = req.resolve('@jsquash/jpeg/decode.js');
    const mod = (await import(pathToFileURL(entry).href)) as {
      default: (b: ArrayBuffer) => Promise<{ data: Uint8ClampedArray; width: number; height: number }>;
      init: (m: WebAssembly.Module) => Promise<void>;
    };
    const wasm = await WebAssembly.compile(
      readFileSync(join(entry, '..', 'codec', 'dec', 'mozjpeg_dec.wasm')),
    );
    await mod.init(wasm);
    out.push({
      name: '@jsquash/jpeg (MozJPEG, WASM)',
      decode: async (b) => {
        const img = await mod.default(b.slice().buffer);
        return rgbOf(img.data, img.width * img.height);
      },
    });
  } catch (e) {
    console.log(`bench decode: @jsquash/jpeg not loaded (${(e as Error).message.split('\n')[0]})`);
  }
  return out;
}

/** The two inputs: a flower photo (or a synthetic image) scaled to each size, encoded 4:2:0 q90. */
function inputs(flower: string | null): Array<{ name: string; bytes: Uint8Array }> {
  let src: { width: number; height: number; channels: 3; data: Uint8Array };
  try {
    if (!flower) throw new Error('no flower photo');
    src = decodeImage(readFileSync(flower));
  } catch {
    const w = 256;
    const data = new Uint8Array(w * w * 3);
    for (let i = 0; i < w * w; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      data.set([(x * 7 + y) & 255, 128 + 100 * Math.sin(x / 9) * Math.cos(y / 13), (x ^ y) & 255], i * 3);
    }
    src = { width: w, height: w, channels: 3, data };
  }
  let seed = 1;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return ((seed >>> 16) / 65536 - 0.5) * 8; // texture, so the file size is photo-like
  };
  return (
    [
      [224, 224],
      [768, 1024],
    ] as const
  ).map(([h, w]) => {
    const f = resizeImageCpu(src, [h, w], { interpolation: 'bicubic' });
    const rgb = new Uint8Array(f.length);
    for (let i = 0; i < f.length; i++) rgb[i] = Math.max(0, Math.min(255, Math.round(f[i] + noise())));
    return { name: `${w}x${h}`, bytes: encodeJpeg(rgb, w, h, 90, true) };
  });
}

function accuracy(d: Decoder): Promise<{ fast: number; accurate: number }> {
  return (async () => {
    let fast = 0;
    let accurate = 0;
    for (const c of manifest.decode) {
      if (c.name === 'cmyk') continue; // peers differ in CMYK conventions; ours is in the tests
      const got = await d.decode(fixtureBytes(`${c.name}.jpg`));
      const f = fixtureBytes(c.fast);
      const a = fixtureBytes(c.accurate);
      if (got.length !== f.length) return { fast: Number.NaN, accurate: Number.NaN };
      for (let i = 0; i < f.length; i++) {
        fast = Math.max(fast, Math.abs(got[i] - f[i]));
        accurate = Math.max(accurate, Math.abs(got[i] - a[i]));
      }
    }
    return { fast, accurate };
  })();
}

/** Times every decoder on every input (interleaved rounds, `budgetMs` per decoder and input). */
export async function measureDecode(flower: string | null, budgetMs = 3000): Promise<DecodeRow[]> {
  const decoders: Decoder[] = [
    {
      name: 'old path: jpeg-js',
      decode: async (b) => jpeg.decode(b, { useTArray: true, formatAsRGBA: false }).data,
    },
    { name: 'ours, INTEGER_FAST (TF default)', decode: async (b) => decodeImage(b).data },
    {
      name: 'ours, INTEGER_ACCURATE',
      decode: async (b) => decodeImage(b, { dctMethod: 'INTEGER_ACCURATE' }).data,
    },
    ...(await peers()),
  ];
  const ins = inputs(flower);
  const rows: DecodeRow[] = [];
  for (const d of decoders) {
    const acc = await accuracy(d);
    rows.push({ decoder: d.name, rate: {}, maxVsFast: acc.fast, maxVsAccurate: acc.accurate });
  }
  for (const input of ins) {
    const samples: number[][] = decoders.map(() => []);
    for (const d of decoders) for (let i = 0; i < 3; i++) await d.decode(input.bytes);
    const t0 = performance.now();
    // Rounds of every decoder in turn, so that load from other processes hits them alike.
    while (performance.now() - t0 < budgetMs * decoders.length || samples[0].length < 5) {
      for (const [k, d] of decoders.entries()) {
        const t = performance.now();
        await d.decode(input.bytes);
        samples[k].push(performance.now() - t);
      }
    }
    for (const [k] of decoders.entries()) rows[k].rate[input.name] = 1000 / median(samples[k]);
  }
  const sizes = ins.map((i) => `${i.name} (${(i.bytes.length / 1024).toFixed(0)} KiB)`).join(', ');
  console.log(`decode inputs: ${sizes}, 4:2:0 q90`);
  return rows;
}

export function decodeTable(rows: DecodeRow[]): string {
  const names = Object.keys(rows[0]?.rate ?? {});
  return markdownTable(
    ['decoder', ...names.map((n) => `${n} images/s`), 'max |diff| vs TF default', 'vs INTEGER_ACCURATE'],
    rows.map((r) => [
      r.decoder,
      ...names.map((n) => fmt(r.rate[n])),
      String(r.maxVsFast),
      String(r.maxVsAccurate),
    ]),
    [0],
  );
}
