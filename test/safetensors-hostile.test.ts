import { describe, expect, it } from 'vitest';
import { WeightsFormatError } from '../src/io/errors.js';
import {
  type ParseOptions,
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
  toInt32,
} from '../src/io/safetensors.js';
import { DTypeError } from '../src/tensor/errors.js';
import { randArray, randInts, rng } from './helpers.js';
import { rawFile, T } from './safetensors-helpers.js';

/* Hostile inputs: every one must throw WeightsFormatError naming the tensor (where there is one). */

interface Hostile {
  label: string;
  bytes: Uint8Array;
  /** The tensor the message must name. */
  tensor?: string;
  /** Another fragment the message must contain. */
  says?: string;
  opts?: ParseOptions;
}

function hostileCorpus(): Hostile[] {
  const c: Hostile[] = [];
  const add = (label: string, bytes: Uint8Array, tensor?: string, says?: string, opts?: ParseOptions) =>
    c.push({ label, bytes, tensor, says, opts });
  const one = (label: string, entry: unknown, data: number, says?: string) =>
    add(label, rawFile({ w: entry }, data), 'w', says);

  const base = serializeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) },
      { name: 'b', dtype: 'I32', shape: [3], data: Int32Array.of(3, 4, 5) },
    ],
    { k: 'v' },
  );
  const n = Number(new DataView(base.buffer).getBigUint64(0, true));
  add('zero bytes', new Uint8Array(0), undefined, 'shorter than the 8-byte header length');
  for (let len = 1; len < 8; len++) add(`${len} bytes`, base.slice(0, len), undefined, 'shorter');
  for (const cut of [8, 12, 8 + (n >> 1), 8 + n - 1])
    add(`truncated at ${cut}`, base.slice(0, cut), undefined, 'past the end of the file');
  add('truncated after the header', base.slice(0, 8 + n), 'a', 'past the end of the data section');
  add('truncated inside a', base.slice(0, 8 + n + 4), 'a', 'past the end of the data section');
  add('truncated inside b', base.slice(0, base.length - 1), 'b', 'past the end of the data section');
  add('header length past the end', rawFile({}, 0, 3n), undefined, 'runs past the end of the file');
  add('header length 2^60', rawFile({}, 0, 2n ** 60n), undefined, 'exceeds the limit');
  add('header length 2^64-1', rawFile({}, 0, 2n ** 64n - 1n), undefined, 'exceeds the limit');
  add('header length 100,000,001', rawFile({}, 0, 100_000_001n), undefined, 'exceeds the limit of 100000000');
  add('header over maxHeaderBytes', base, undefined, 'maxHeaderBytes', { maxHeaderBytes: 16 });

  add('invalid UTF-8', rawFile(Uint8Array.of(0x7b, 0xff, 0x7d)), undefined, 'not valid UTF-8');
  add('UTF-8 BOM', rawFile(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d)), undefined, 'not valid JSON');
  for (const text of [
    '',
    '{"a":',
    'not json',
    '{"a":1,}',
    "{'a':1}",
    '{"a":NaN}',
    '{}\0\0\0\0\0\0',
    '{"w":[[[[',
  ]) {
    add(`invalid JSON ${JSON.stringify(text)}`, rawFile(text), undefined, 'not valid JSON');
  }
  add('deeply nested, unclosed', rawFile(`{"w":${'['.repeat(100_000)}`), undefined, 'not valid JSON');
  for (const text of [
    '[]',
    'null',
    '42',
    '"x"',
    'true',
    '[{"a":1}]',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
  ]) {
    add(`header ${text.slice(0, 12)}`, rawFile(text), undefined, 'must be a JSON object');
  }

  for (const e of [5, [], null, 'F32', `${'['.repeat(50_000)}${']'.repeat(50_000)}`]) {
    const text = typeof e === 'string' && e.startsWith('[') ? `{"w":${e}}` : JSON.stringify({ w: e });
    add(`entry ${String(e).slice(0, 10)}`, rawFile(text), 'w', 'entry must be an object');
  }
  one('missing dtype', { shape: [1], data_offsets: [0, 4] }, 4, 'dtype must be a string, got nothing');
  one('missing shape', { dtype: 'F32', data_offsets: [0, 4] }, 4, 'shape must be an array');
  one('missing data_offsets', { dtype: 'F32', shape: [1] }, 4, 'data_offsets must be [begin, end]');
  for (const dt of ['F33', 'f32', 'float32', '', '__proto__', 'constructor', 'toString']) {
    one(`dtype ${dt}`, T(dt, [1], [0, 4]), 4, 'unknown dtype');
  }
  for (const dt of [32, null, ['F32'], { F32: 1 }])
    one(`dtype ${JSON.stringify(dt)}`, T(dt, [1], [0, 4]), 4, 'dtype must be a string');
  for (const s of [[-1], [1.5], ['3'], [null], [true], [[1]], [2 ** 53 + 2], [1, -0.5]]) {
    one(`shape ${JSON.stringify(s)}`, T('F32', s, [0, 4]), 4, 'must be a non-negative integer');
  }
  for (const s of ['3', { 0: 3 }, null, 3])
    one(`shape ${JSON.stringify(s)}`, T('F32', s, [0, 4]), 4, 'shape must be an array');
  add(
    'shape [1e400] (Infinity)',
    rawFile('{"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}}', 4),
    'w',
    'non-negative integer',
  );
  one('shape product overflows', T('F32', [2 ** 40, 2 ** 40], [0, 4]), 4, 'too many elements');
  one('shape product 2^53 bits', T('U8', [2 ** 26, 2 ** 26], [0, 4]), 4, 'too many elements');
  for (const o of [
    [-1, 3],
    [0.5, 4],
    ['0', '4'],
    [0],
    [0, 4, 8],
    { begin: 0, end: 4 },
    null,
    [null, 4],
    [2 ** 64, 2 ** 64 + 8],
  ]) {
    one(`offsets ${JSON.stringify(o)}`, T('F32', [1], o), 4, 'data_offsets must be [begin, end]');
  }
  one('offsets out of range', T('F32', [1], [0, 4]), 3, 'past the end of the data section (3 bytes)');
  one('offsets far out of range', T('F32', [1], [1e15, 1e15 + 4]), 4, 'past the end');
  one('begin > end', T('F32', [1], [4, 0]), 4, 'begin > end');
  one('shape product != bytes', T('F32', [3], [0, 8]), 8, 'needs 12 bytes, but data_offsets [0,8] hold 8');
  one('I64 bytes as I32 count', T('I64', [2], [0, 8]), 8, 'needs 16 bytes');
  one('F4 half byte', T('F4', [3], [0, 2]), 2, 'does not fill whole bytes');
  one('empty tensor with bytes', T('F32', [0], [0, 4]), 4, 'needs 0 bytes');
  add(
    'overlap',
    rawFile({ a: T('F32', [2], [0, 8]), b: T('F32', [3], [4, 16]) }, 16),
    'b',
    'overlap tensor "a" [0,8]',
  );
  add('same offsets', rawFile({ a: T('F32', [2], [0, 8]), b: T('I32', [2], [0, 8]) }, 8), 'b', 'overlap');
  add(
    'empty inside another',
    rawFile({ a: T('F32', [2], [0, 8]), e: T('F32', [0], [4, 4]) }, 8),
    'e',
    'overlap',
  );
  add(
    'gap between',
    rawFile({ a: T('F32', [2], [0, 8]), b: T('F32', [2], [12, 20]) }, 20),
    'b',
    'bytes [8,12) belong to no tensor',
  );
  add('gap at the start', rawFile({ a: T('F32', [2], [4, 12]) }, 12), 'a', 'bytes [0,4) belong to no tensor');
  add('unindexed tail', rawFile({ a: T('F32', [2], [0, 8]) }, 12), 'a', 'last 4 bytes of the data section');
  add('data but no tensors', rawFile({}, 8), undefined, 'belong to no tensor');
  const w = JSON.stringify(T('F32', [1], [0, 4]));
  add('duplicate name', rawFile(`{"w":${w},"w":${w}}`, 4), 'w', 'appears twice');
  add('duplicate escaped name', rawFile(`{"w":${w},"\\u0077":${w}}`, 4), 'w', 'appears twice');
  add(
    'duplicate field',
    rawFile('{"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}', 4),
    'w',
    'key "dtype" appears twice',
  );
  add('__metadata__ array', rawFile({ __metadata__: ['a'] }), undefined, '__metadata__ must be an object');
  add('__metadata__ string', rawFile({ __metadata__: 'a' }), undefined, '__metadata__ must be an object');
  add(
    '__metadata__ number value',
    rawFile({ __metadata__: { k: 1 } }),
    undefined,
    '__metadata__ "k" must be a string',
  );
  add(
    '__metadata__ duplicate key',
    rawFile('{"__metadata__":{"k":"a","k":"b"}}'),
    undefined,
    'key "k" appears twice',
  );
  const long = 'n'.repeat(10_000);
  add('huge name', rawFile({ [long]: T('F32', [1], [0, 4]) }, 0), 'n'.repeat(100), 'past the end');
  return c;
}

describe('hostile inputs', () => {
  it('rejects every file of the corpus with WeightsFormatError naming the tensor, without hanging', () => {
    const corpus = hostileCorpus();
    const start = performance.now();
    let rejected = 0;
    for (const h of corpus) {
      let err: unknown;
      try {
        parseSafetensors(h.bytes, h.opts);
      } catch (e) {
        err = e;
      }
      expect(err, h.label).toBeInstanceOf(WeightsFormatError);
      const msg = (err as Error).message;
      expect(msg, h.label).toMatch(/^safetensors: /);
      expect(msg.length, `${h.label}: message stays short`).toBeLessThan(600);
      if (h.tensor !== undefined)
        expect(msg, h.label).toContain(`tensor ${JSON.stringify(h.tensor).slice(0, -1)}`);
      if (h.says !== undefined) expect(msg, h.label).toContain(h.says);
      rejected++;
    }
    const ms = performance.now() - start;
    expect(rejected).toBe(corpus.length);
    expect(rejected).toBeGreaterThan(100);
    expect(ms).toBeLessThan(5000);
    console.log(`safetensors: ${rejected} hostile inputs rejected (${ms.toFixed(0)} ms)`);
  });

  it('random byte mutations of a valid file either parse consistently or throw WeightsFormatError', () => {
    const r = rng(1234);
    const base = serializeSafetensors(
      [
        { name: 'k', dtype: 'F32', shape: [2, 3], data: randArray(6, r) },
        { name: 'i', dtype: 'I32', shape: [4], data: randInts(4, r, -9, 9) },
        { name: 's', dtype: 'F32', shape: [], data: Float32Array.of(1) },
      ],
      { m: 'x' },
    );
    let rejected = 0;
    let parsed = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = base.slice(0, r() < 0.1 ? Math.floor(r() * base.length) : base.length);
      const edits = 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits && bytes.length > 0; e++) {
        // Mostly hit the header (length field and JSON), where the structure lives.
        const at = Math.floor(r() * Math.min(bytes.length, r() < 0.8 ? 8 + 136 : bytes.length));
        bytes[at] =
          r() < 0.5 ? Math.floor(r() * 256) : '{}[]",:0123456789-. e'.charCodeAt(Math.floor(r() * 21));
      }
      try {
        const f = parseSafetensors(bytes);
        for (const t of f.tensors.values()) {
          expect(t.data.byteOffset + t.data.byteLength).toBeLessThanOrEqual(bytes.byteLength);
          try {
            if (['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) toFloat32(t);
            else toInt32(t);
          } catch (e) {
            if (!(e instanceof DTypeError || e instanceof WeightsFormatError)) throw e;
          }
        }
        parsed++;
      } catch (e) {
        if (!(e instanceof WeightsFormatError)) throw e;
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
    console.log(`safetensors: fuzz: ${rejected} of 2000 mutated files rejected, ${parsed} still valid`);
  });
});
