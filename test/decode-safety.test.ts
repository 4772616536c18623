import { deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../src/data/decode.js';
import { ImageDecodeError } from '../src/data/errors.js';
import {
  chunk,
  concat,
  expectDecodeError,
  jpegOf,
  makePng,
  makePngFromRaw,
  randomSpec,
} from './decode-helpers.js';
import { rng } from './helpers.js';

/* The decoders' safety limits: oversized headers, zip bombs, short or corrupt data, hostile inputs. */

describe('safety limits', () => {
  it('refuses a JPEG whose SOF claims too many pixels before allocating', () => {
    // SOI, SOF0 claiming 60000x60000 (3.6 G pixels), then nothing.
    const sof = [
      0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0xea, 0x60, 0xea, 0x60, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
    ];
    const t = performance.now();
    expectDecodeError(
      () => decodeImage(new Uint8Array(sof), { path: 'big.jpg' }),
      'big.jpg',
      /3600000000 pixels, over maxPixels = 50000000/,
    );
    expect(performance.now() - t).toBeLessThan(50);
  });

  it('refuses a PNG whose IHDR claims too many pixels, and honours a smaller maxPixels', () => {
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, 100_000);
    new DataView(ihdr.buffer).setUint32(4, 100_000);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const png = concat([
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
    ]);
    expectDecodeError(() => decodeImage(png, { path: 'big.png' }), 'big.png', /100000x100000/);
    const { bytes } = jpegOf(20, 10);
    expectDecodeError(
      () => decodeImage(bytes, { path: 's.jpg', maxPixels: 199 }),
      's.jpg',
      /over maxPixels = 199/,
    );
    expect(decodeImage(bytes, { maxPixels: 200 }).width).toBe(20);
  });

  it('refuses a zip bomb: image data that inflates past what the header allows', () => {
    const ihdr = (interlace: number) => {
      const d = new Uint8Array(13);
      new DataView(d.buffer).setUint32(0, 4);
      new DataView(d.buffer).setUint32(4, 4);
      d.set([8, 2, 0, 0, interlace], 8);
      return chunk('IHDR', d);
    };
    // 32 MB of zeros deflate to ~32 KB; a 4x4 RGB image needs 52 bytes (55 interlaced: 7 passes + filter bytes).
    const bomb = new Uint8Array(deflateSync(new Uint8Array(32 << 20), { level: 9 }));
    const sig = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const make = (interlace: number) =>
      concat([sig, ihdr(interlace), chunk('IDAT', bomb), chunk('IEND', new Uint8Array(0))]);
    const [interlaced, plain] = [make(1), make(0)];
    const t = performance.now();
    expectDecodeError(
      () => decodeImage(interlaced, { path: 'bomb.png' }),
      'bomb.png',
      /inflates to more than the 55 bytes/,
    );
    expectDecodeError(() => decodeImage(plain, { path: 'bomb2.png' }), 'bomb2.png', /more than the 52 bytes/);
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it('refuses image data shorter than the header needs (pngjs would return uninitialised memory)', () => {
    for (const interlace of [false, true]) {
      const spec = { ...randomSpec(rng(8), 2, 8, 4, 3), interlace };
      const good = makePng(spec);
      const need = interlace ? 42 : 39;
      // Re-deflate the first 30 bytes of the raw scanlines only.
      const raw = inflateSync(good.subarray(41, good.length - 16));
      expect(raw.length).toBe(need);
      const short = makePngFromRaw(good.subarray(16, 29), raw.subarray(0, 30));
      expectDecodeError(
        () => decodeImage(short, { path: 's.png' }),
        's.png',
        new RegExp(`inflates to 30 of the ${need} bytes`),
      );
    }
  });

  it('rejects invalid IHDR fields', () => {
    const bad = (depth: number, colorType: number, interlace = 0) =>
      makePngFromRaw(
        new Uint8Array([0, 0, 0, 2, 0, 0, 0, 2, depth, colorType, 0, 0, interlace]),
        new Uint8Array(20),
      );
    expectDecodeError(() => decodeImage(bad(8, 7), { path: 'a' }), 'a', /colour type 7 with bit depth 8/);
    expectDecodeError(() => decodeImage(bad(16, 3), { path: 'a' }), 'a', /colour type 3 with bit depth 16/);
    expectDecodeError(() => decodeImage(bad(4, 2), { path: 'a' }), 'a', /colour type 2 with bit depth 4/);
    expectDecodeError(() => decodeImage(bad(8, 2, 2), { path: 'a' }), 'a', /interlace 2/);
  });

  it('reports a bad CRC, truncation and a zero-length IHDR size', () => {
    const good = makePng(randomSpec(rng(5), 2, 8, 6, 6));
    const badCrc = good.slice();
    badCrc[good.length - 13] ^= 0xff; // last byte of the IDAT CRC
    expectDecodeError(
      () => decodeImage(badCrc, { path: 'crc.png' }),
      'crc.png',
      /corrupt PNG: bad CRC in the "IDAT" chunk at byte 33/,
    );
    expectDecodeError(
      () => decodeImage(good.subarray(0, good.length - 20), { path: 't.png' }),
      't.png',
      /truncated PNG/,
    );
    // As libpng: an ancillary chunk with a bad CRC is dropped, bytes after IEND are ignored.
    const want = Array.from(decodeImage(good).data);
    const text = chunk('tEXt', new Uint8Array(Buffer.from('Comment\0hi', 'latin1')));
    text[text.length - 1] ^= 1;
    const withText = concat([good.subarray(0, 33), text, good.subarray(33)]);
    expect(Array.from(decodeImage(withText).data)).toEqual(want);
    expect(Array.from(decodeImage(concat([good, new Uint8Array([1, 2, 3])])).data)).toEqual(want);
    const zero = good.slice();
    zero.fill(0, 16, 20);
    expectDecodeError(() => decodeImage(zero, { path: 'z.png' }), 'z.png', /IHDR gives size 0x6/);
    const { bytes } = jpegOf(16, 16);
    expectDecodeError(
      () => decodeImage(bytes.subarray(0, bytes.length - 2), { path: 't.jpg' }),
      't.jpg',
      /corrupt JPEG data/,
    );
  });

  it('survives hostile inputs: every one decodes to the right size or throws ImageDecodeError, quickly', () => {
    const r = rng(2024);
    const seeds: Array<[string, Uint8Array]> = [
      ['jpeg', jpegOf(40, 30, 80).bytes],
      ['jpeg-q20', jpegOf(23, 17, 20, 9).bytes],
      ['png', makePng(randomSpec(r, 2, 8, 12, 10))],
      ['png-palette-interlaced', makePng({ ...randomSpec(r, 3, 4, 11, 7), interlace: true })],
      ['png16', makePng(randomSpec(r, 6, 16, 9, 9))],
    ];
    const hostile: Array<[string, Uint8Array]> = [];
    for (const [name, base] of seeds) {
      for (let i = 1; i < 40; i++)
        hostile.push([`${name}-trunc${i}`, base.subarray(0, Math.floor((base.length * i) / 40))]);
      for (let i = 0; i < 80; i++) {
        const m = base.slice();
        const flips = 1 + Math.floor(r() * 8);
        for (let k = 0; k < flips; k++) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
        hostile.push([`${name}-flip${i}`, m]);
      }
      // Length fields that lie: every 2-byte (JPEG) / 4-byte (PNG) window set to its maximum.
      for (let i = 0; i < 20; i++) {
        const m = base.slice();
        const at = 2 + Math.floor(r() * (m.length - 6));
        m.fill(0xff, at, at + (name.startsWith('png') ? 4 : 2));
        hostile.push([`${name}-len${i}`, m]);
      }
    }
    for (let i = 0; i < 30; i++) {
      const junk = Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256));
      const head = i % 2 ? [0xff, 0xd8, 0xff] : [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
      hostile.push([`junk${i}`, concat([new Uint8Array(head), junk])]);
    }
    let rejected = 0;
    let slowest = 0;
    for (const [name, bytes] of hostile) {
      const t = performance.now();
      try {
        const img = decodeImage(bytes, { path: name, maxPixels: 1e6 });
        expect(img.data.length, name).toBe(img.width * img.height * 3);
        // Deterministic: no uninitialised memory reaches the pixels.
        expect(decodeImage(bytes, { path: name }).data, name).toEqual(img.data);
      } catch (e) {
        if (!(e instanceof ImageDecodeError)) throw new Error(`${name}: ${(e as Error).stack}`);
        expect(e.message).toContain(`'${name}'`);
        rejected++;
      }
      slowest = Math.max(slowest, performance.now() - t);
    }
    console.log(
      `decode: tried ${hostile.length} hostile inputs: ${rejected} rejected with ImageDecodeError, ` +
        `${hostile.length - rejected} decoded (corruption in pixel data only); slowest ${slowest.toFixed(1)} ms`,
    );
    expect(rejected).toBeGreaterThan(hostile.length / 3);
    expect(slowest).toBeLessThan(2000);
  });
});
