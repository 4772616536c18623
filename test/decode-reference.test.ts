import { describe, expect, it } from 'vitest';
import { decodeAndResize, decodeImage } from '../src/data/decode.js';
import { ImageDecodeError } from '../src/data/errors.js';
import { resizeImageCpu } from '../src/data/resize.js';
import { fixtureBytes, manifest, resizeReference } from './fixtures/images/load.js';

// Fixtures made by TensorFlow 2.21 / Pillow / OpenCV (test/fixtures/images/make_fixtures.py).

/** Largest absolute difference, and how many values differ at all. */
function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; count: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) count++;
    if (d > max) max = d;
  }
  return { max, count };
}

describe('JPEG decoding against tf.io.decode_jpeg (libjpeg-turbo)', () => {
  it('has fixtures in every mode', () => {
    expect(manifest.decode.length).toBeGreaterThanOrEqual(25);
  });
  for (const c of manifest.decode) {
    it(`${c.name}: ${c.note}`, () => {
      const bytes = fixtureBytes(`${c.name}.jpg`);
      const fast = decodeImage(bytes, { path: c.name });
      expect([fast.width, fast.height]).toEqual([c.width, c.height]);
      // The bar is 1 level; the port is bit-exact, so any difference is a regression.
      const f = diff(fast.data, fixtureBytes(c.fast));
      expect(f, 'INTEGER_FAST (TF default)').toEqual({ max: 0, count: 0 });
      const acc = decodeImage(bytes, { dctMethod: 'INTEGER_ACCURATE' });
      expect(diff(acc.data, fixtureBytes(c.accurate)), 'INTEGER_ACCURATE').toEqual({ max: 0, count: 0 });
      const f32 = decodeImage(bytes, { dtype: 'float32' });
      expect(Array.from(f32.data)).toEqual(Array.from(fast.data));
      if (c.orientation && c.oriented) {
        const o = decodeImage(bytes, { applyExifOrientation: true });
        expect([o.width, o.height]).toEqual([c.orientedWidth, c.orientedHeight]);
        expect(diff(o.data, fixtureBytes(c.oriented)).max).toBe(0);
        const of = decodeImage(bytes, { applyExifOrientation: true, dtype: 'float32' });
        expect(Array.from(of.data)).toEqual(Array.from(o.data));
      }
    });
  }
});

describe('resizing against tf.image.resize', () => {
  const src = manifest.decode.find((c) => c.name === 's420');
  if (!src) throw new Error('fixture s420 missing');
  const img = { width: src.width, height: src.height, channels: 3, data: fixtureBytes(src.fast) };
  for (const c of manifest.resize) {
    const mode = c.crop ? ' crop' : c.pad ? ' pad' : '';
    it(`${c.interpolation}${c.antialias ? ' antialias' : ''}${mode} to ${c.size.join('x')}`, () => {
      const opts = {
        interpolation: c.interpolation,
        antialias: c.antialias,
        cropToAspectRatio: c.crop,
        padToAspectRatio: c.pad,
      };
      const out = resizeImageCpu(img, c.size, opts);
      const ref = resizeReference(c);
      // float32 rounding (summation order, sin/exp in float): 1.5e-4 measured on 0..255 values.
      expect(diff(out, ref).max).toBeLessThan(1e-3);
      if (c.interpolation === 'nearest' || c.interpolation === 'bilinear') {
        expect(diff(out, ref).max).toBeLessThan(1e-4);
      }
      // decodeAndResize is the same pipeline from the JPEG bytes.
      const r = decodeAndResize(fixtureBytes('s420.jpg'), { size: c.size, ...opts });
      expect(Array.from(r.pixels)).toEqual(Array.from(out));
    });
  }
});

describe('JPEG variants TensorFlow refuses or that are broken', () => {
  /** s420.jpg with its frame header edited: `at` counts from the SOF marker's 0xff. */
  function edited(edit: (b: Uint8Array, sof: number) => void): Uint8Array {
    const b = fixtureBytes('s420.jpg').slice();
    let sof = 2;
    while (!(b[sof] === 0xff && b[sof + 1] === 0xc0)) sof++;
    edit(b, sof);
    return b;
  }
  const fails = (bytes: Uint8Array, re: RegExp) => {
    expect(() => decodeImage(bytes, { path: 'x.jpg' })).toThrow(ImageDecodeError);
    expect(() => decodeImage(bytes, { path: 'x.jpg' })).toThrow(re);
  };

  it('refuses 12-bit samples, 2 components and arithmetic coding with a clear ImageDecodeError', () => {
    fails(
      edited((b, s) => {
        b[s + 4] = 12;
      }),
      /cannot decode 'x.jpg': unsupported JPEG: 12-bit samples/,
    );
    fails(
      edited((b, s) => {
        b[s + 9] = 2;
      }),
      /unsupported JPEG: 2 colour components/,
    );
    fails(
      edited((b, s) => {
        b[s + 1] = 0xc9;
      }),
      /unsupported JPEG: arithmetic-coded \(SOF9\)/,
    );
  });

  it('refuses a missing restart marker and truncated scan data', () => {
    const rst = fixtureBytes('rst420.jpg').slice();
    let at = 2;
    while (!(rst[at] === 0xff && rst[at + 1] >= 0xd0 && rst[at + 1] <= 0xd7)) at++;
    rst[at + 1] = 0x00; // the first RSTn becomes stuffed data
    expect(() => decodeImage(rst, { path: 'r.jpg' })).toThrow(ImageDecodeError);
    const whole = fixtureBytes('p420.jpg');
    fails(whole.subarray(0, Math.floor(whole.length * 0.6)), /truncated/);
  });
});
