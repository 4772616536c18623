import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightsFormatError } from '../src/io/errors.js';
import {
  type ParseOptions,
  parseSafetensors,
  type SafetensorsEntry,
  type SerializableTensor,
  serializeSafetensors,
  toFloat32,
  toInt32,
} from '../src/io/safetensors.js';
import { ArgumentError, DTypeError, ShapeError } from '../src/tensor/errors.js';
import { randArray, randInts, randShape, rng } from './helpers.js';
import { weightsDir } from './shared-data.js';

const enc = new TextEncoder();

/** A file with an arbitrary header (object, raw text or raw bytes) and data; `n` overrides the length field. */
function rawFile(header: unknown, data: Uint8Array | number = 0, n?: bigint): Uint8Array {
  const h =
    header instanceof Uint8Array
      ? header
      : enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

const T = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

/** Bit-exact comparison (NaN payloads, -0). */
function sameBits(a: Float32Array, b: Float32Array): void {
  expect(Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length))).toEqual(
    Array.from(new Uint32Array(b.buffer, b.byteOffset, b.length)),
  );
}

describe('serializeSafetensors / parseSafetensors round trip', () => {
  it('keeps names, order, dtypes, shapes, bits and metadata; header 8-byte aligned; deterministic', () => {
    const r = rng(7);
    const shape3 = randShape(3, r);
    const shape4 = randShape(4, r, 5);
    const n3 = shape3.reduce((a, b) => a * b, 1);
    const n4 = shape4.reduce((a, b) => a * b, 1);
    const specials = Float32Array.of(Number.NaN, Infinity, -Infinity, -0, 1e-45, 3.4e38, -1.5);
    const tensors: SerializableTensor[] = [
      { name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.of(3.5) },
      { name: 'empty', dtype: 'F32', shape: [0], data: new Float32Array(0) },
      { name: 'empty3', dtype: 'I32', shape: [3, 0, 2], data: new Int32Array(0) },
      { name: 'dense/kernel', dtype: 'F32', shape: shape3, data: randArray(n3, r, -10, 10) },
      { name: 'ids', dtype: 'I32', shape: [5], data: Int32Array.of(-2147483648, -1, 0, 1, 2147483647) },
      { name: 'big4', dtype: 'I32', shape: shape4, data: randInts(n4, r, -1000, 1000) },
      { name: 'specials', dtype: 'F32', shape: [7], data: specials },
      { name: 'mask', dtype: 'BOOL', shape: [2, 2], data: Uint8Array.of(0, 1, 1, 0) },
      { name: 'ünï/cödé "quoted"\n', dtype: 'F32', shape: [1, 1], data: Float32Array.of(-2) },
      { name: '10', dtype: 'I32', shape: [1], data: Int32Array.of(10) },
      { name: '2', dtype: 'I32', shape: [1], data: Int32Array.of(2) },
      { name: '__proto__', dtype: 'F32', shape: [1], data: Float32Array.of(1) },
    ];
    const metadata = { format: 'pt', ünï: 'cödé', constructor: 'x' };
    const bytes = serializeSafetensors(tensors, metadata);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(bytes.length).toBe(8 + n + tensors.reduce((s, t) => s + t.data.byteLength, 0));
    expect(serializeSafetensors(tensors, metadata)).toEqual(bytes);

    const parsed = parseSafetensors(bytes);
    expect({ ...parsed.metadata }).toEqual(metadata);
    expect([...parsed.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const e = parsed.tensors.get(t.name)!;
      expect(e.dtype, t.name).toBe(t.dtype);
      expect(e.shape, t.name).toEqual(t.shape);
      expect(e.data.buffer, 'a view, not a copy').toBe(bytes.buffer);
      expect(e.data, t.name).toEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      if (t.dtype === 'F32') sameBits(toFloat32(e), t.data as Float32Array);
      else expect(toInt32(e), t.name).toEqual(t.dtype === 'I32' ? t.data : Int32Array.from(t.data));
    }
  });

  it('writes the reference layout byte for byte (header padded with spaces)', () => {
    const bytes = serializeSafetensors([
      { name: 'test', dtype: 'I32', shape: [2, 2], data: Int32Array.of(1, 2, 3, -1) },
    ]);
    const json = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}    ';
    const want = rawFile(json, new Uint8Array(Int32Array.of(1, 2, 3, -1).buffer));
    expect(json.length).toBe(64);
    expect(bytes).toEqual(want);
    expect(serializeSafetensors([])).toEqual(rawFile('{}      '));
  });

  it('parses a file written by the reference implementation (safetensors 0.8.0, numpy) with 12 dtypes', () => {
    // safetensors.numpy.save({...}, metadata=...): f16 i8 u8 i16 u16 u32 i64 f64 bool, scalar, empty, unaligned.
    const b64 =
      'CAMAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJ3aG8iOiJzYWZldGVuc29ycyAwLjguMCAocmVmZXJlbmNlKSIsIsO8bsOvIjoiY8O2ZMOpIn0sImk2NCI6eyJkdHlwZSI6Ikk2NCIsInNoYXBlIjpbNF0sImRhdGFfb2Zmc2V0cyI6WzAsMzJdfSwiZjY0Ijp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOlsyLDJdLCJkYXRhX29mZnNldHMiOlszMiw2NF19LCJlbXB0eSI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMiwwXSwiZGF0YV9vZmZzZXRzIjpbNjQsNjRdfSwib2RkX2YzMiI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzY0LDc2XX0sInNjYWxhciI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbXSwiZGF0YV9vZmZzZXRzIjpbNzYsODBdfSwidTMyIjp7ImR0eXBlIjoiVTMyIiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbODAsODhdfSwiZjE2Ijp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOls4XSwiZGF0YV9vZmZzZXRzIjpbODgsMTA0XX0sInUxNiI6eyJkdHlwZSI6IlUxNiIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzEwNCwxMDhdfSwiaTE2Ijp7ImR0eXBlIjoiSTE2Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMTA4LDExMl19LCJpOCI6eyJkdHlwZSI6Ikk4Iiwic2hhcGUiOls0XSwiZGF0YV9vZmZzZXRzIjpbMTEyLDExNl19LCJ1OCI6eyJkdHlwZSI6IlU4Iiwic2hhcGUiOlszXSwiZGF0YV9vZmZzZXRzIjpbMTE2LDExOV19LCJiIjp7ImR0eXBlIjoiQk9PTCIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzExOSwxMjJdfX0gIAAAAID/////////fwAAAAD7/////////wAAAAAAAAAAVVVVVVVV1T+cdQCIPOQ3/ugHAAAAAAAAAAAAAAAABEAAAAAAJUkSPiVJkj4AAOhA////fwMAAAAAPADA/3sBAAB8APwAgFU1//8HAACA/3+A/wB/AAH/AQAB';
    const f = parseSafetensors(new Uint8Array(Buffer.from(b64, 'base64')));
    expect({ ...f.metadata }).toEqual({ who: 'safetensors 0.8.0 (reference)', ünï: 'cödé' });
    const get = (k: string) => f.tensors.get(k)!;
    expect(Array.from(toFloat32(get('f16')))).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      Infinity,
      -Infinity,
      -0,
      0.333251953125,
    ]);
    expect(Object.is(toFloat32(get('f16'))[6], -0)).toBe(true);
    expect(Array.from(toFloat32(get('f64')))).toEqual([Math.fround(1 / 3), -Infinity, 0, 2.5]);
    expect(get('f64').shape).toEqual([2, 2]);
    expect(Array.from(toInt32(get('i8')))).toEqual([-128, -1, 0, 127]);
    expect(Array.from(toInt32(get('u8')))).toEqual([0, 1, 255]);
    expect(Array.from(toInt32(get('i16')))).toEqual([-32768, 32767]);
    expect(Array.from(toInt32(get('u16')))).toEqual([65535, 7]);
    expect(Array.from(toInt32(get('u32')))).toEqual([2147483647, 3]);
    expect(Array.from(toInt32(get('i64')))).toEqual([-2147483648, 2147483647, -5, 0]);
    expect(Array.from(toFloat32(get('i64')))).toEqual([-2147483648, 2147483648, -5, 0]);
    expect(Array.from(toInt32(get('b')))).toEqual([1, 0, 1]);
    expect(Array.from(toFloat32(get('b')))).toEqual([1, 0, 1]);
    expect(Array.from(toFloat32(get('u16')))).toEqual([65535, 7]);
    expect(get('scalar').shape).toEqual([]);
    expect(Array.from(toFloat32(get('scalar')))).toEqual([7.25]);
    expect(get('empty').shape).toEqual([2, 0]);
    expect(toFloat32(get('empty')).length).toBe(0);
    expect(Array.from(toFloat32(get('odd_f32')))).toEqual([0, Math.fround(1 / 7), Math.fround(2 / 7)]);
    expect(() => toInt32(get('f16'))).toThrow(DTypeError);
  });
});

describe('conversions', () => {
  const entry = (dtype: string, bytes: number[], shape = [bytes.length], name = 'x'): SafetensorsEntry => ({
    name,
    dtype,
    shape,
    data: Uint8Array.from(bytes),
  });

  it('BF16 and the FP8 formats', () => {
    const bf = toFloat32(entry('BF16', [0x80, 0x3f, 0x40, 0xc0, 0x49, 0x40, 0x80, 0x7f, 0xc0, 0x7f], [5]));
    expect(Array.from(bf)).toEqual([1, -3, 3.140625, Infinity, Number.NaN]);
    const e4 = toFloat32(entry('F8_E4M3', [0x38, 0x7e, 0x7f, 0x01, 0xb8, 0x08]));
    expect(Array.from(e4)).toEqual([1, 448, Number.NaN, 2 ** -9, -1, 2 ** -6]);
    const e5 = toFloat32(entry('F8_E5M2', [0x3c, 0x7c, 0x01, 0xc0]));
    expect(Array.from(e5)).toEqual([1, Infinity, 2 ** -16, -2]);
    const e8 = toFloat32(entry('F8_E8M0', [127, 0, 255, 130]));
    expect(Array.from(e8)).toEqual([1, 2 ** -127, Number.NaN, 8]);
  });

  it('reads F32, F64 and I64 at unaligned offsets (copy, no misaligned view)', () => {
    const f32 = Float32Array.of(1.25, -7, 1e-30);
    const f64 = Float64Array.of(Math.PI, -1e-5);
    const i64 = BigInt64Array.of(-3n, 2147483647n);
    const data = new Uint8Array(1 + 12 + 16 + 16);
    data.set(new Uint8Array(f32.buffer), 1);
    data.set(new Uint8Array(f64.buffer), 13);
    data.set(new Uint8Array(i64.buffer), 29);
    const header = {
      p: T('U8', [1], [0, 1]),
      f: T('F32', [3], [1, 13]),
      d: T('F64', [2], [13, 29]),
      l: T('I64', [2], [29, 45]),
    };
    const file = rawFile(header, data);
    // Also parse from a view at an odd offset of a bigger buffer.
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    for (const bytes of [file, shifted.subarray(1)]) {
      const t = parseSafetensors(bytes).tensors;
      expect(t.get('f')!.data.byteOffset % 4).not.toBe(0);
      sameBits(toFloat32(t.get('f')!), f32);
      sameBits(toFloat32(t.get('d')!), Float32Array.from(f64));
      expect(Array.from(toInt32(t.get('l')!))).toEqual([-3, 2147483647]);
      expect(Array.from(toInt32(t.get('p')!))).toEqual([0]);
    }
  });

  it('range-checks 64-bit and U32 integers and refuses what cannot be converted', () => {
    const i64 = (v: bigint) => new Uint8Array(BigInt64Array.of(v).buffer);
    const u32 = entry('U32', [0, 0, 0, 0x80], [1], 'big_u32');
    expect(() => toInt32(u32)).toThrow(
      /toInt32: tensor "big_u32" \(U32\) element 0 is 2147483648, outside the int32 range/,
    );
    expect(() => toInt32(u32)).toThrow(WeightsFormatError);
    expect(() => toInt32(entry('I64', [...i64(2n ** 31n)], [1], 'l'))).toThrow(WeightsFormatError);
    expect(() => toInt32(entry('I64', [...i64(-(2n ** 31n) - 1n)], [1], 'l'))).toThrow(
      /outside the int32 range/,
    );
    expect(Array.from(toInt32(entry('I64', [...i64(-(2n ** 31n))], [1])))).toEqual([-2147483648]);
    expect(() => toInt32(entry('U64', [...i64(-1n)], [1], 'u'))).toThrow(/18446744073709551615/);
    expect(Array.from(toFloat32(entry('U64', [...i64(-1n)], [1])))).toEqual([2 ** 64]);
    expect(() => toFloat32(entry('C64', new Array(8).fill(0), [1], 'cplx'))).toThrow(DTypeError);
    expect(() => toFloat32(entry('C64', new Array(8).fill(0), [1], 'cplx'))).toThrow(
      /tensor "cplx" has dtype C64/,
    );
    expect(() => toFloat32(entry('F4', [0], [2]))).toThrow(DTypeError);
    expect(() => toInt32(entry('F32', [0, 0, 0, 0], [1], 'w'))).toThrow(
      /toInt32: tensor "w" has dtype F32.*toFloat32/,
    );
    expect(() => toFloat32(entry('Q8', [0]))).toThrow(DTypeError);
    expect(() => toFloat32(entry('F32', [0, 0, 0], [1], 'short'))).toThrow(
      /toFloat32: tensor "short": shape \[1\] of F32 does not match its 3 bytes/,
    );
  });
});

describe('serializeSafetensors argument errors', () => {
  const ok = (): SerializableTensor => ({ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array(2) });
  const bad = (t: Partial<Record<keyof SerializableTensor, unknown>>) => [
    { ...ok(), ...t } as SerializableTensor,
  ];
  it('names the tensor and the problem', () => {
    expect(() => serializeSafetensors([ok(), ok()])).toThrow(/tensor name "w" is used twice/);
    expect(() => serializeSafetensors([ok(), ok()])).toThrow(ArgumentError);
    expect(() => serializeSafetensors(bad({ name: '__metadata__' }))).toThrow(/"__metadata__" is reserved/);
    expect(() => serializeSafetensors(bad({ name: 3 }))).toThrow(/tensor name 3 must be a string/);
    expect(() => serializeSafetensors(bad({ dtype: 'F16' }))).toThrow(DTypeError);
    expect(() => serializeSafetensors(bad({ dtype: 'F16' }))).toThrow(
      /tensor "w": dtype must be F32, I32 or BOOL, got "F16"/,
    );
    expect(() => serializeSafetensors(bad({ data: new Int32Array(2) }))).toThrow(
      /tensor "w": F32 data must be a Float32Array, got Int32Array/,
    );
    expect(() => serializeSafetensors(bad({ shape: [-1] }))).toThrow(ShapeError);
    expect(() => serializeSafetensors(bad({ shape: [2, 3] }))).toThrow(/shape \[2,3\] needs 6 values, got 2/);
    expect(() => serializeSafetensors(bad({ dtype: 'BOOL', data: Uint8Array.of(0, 2) }))).toThrow(
      /BOOL data must be 0 or 1/,
    );
    expect(() => serializeSafetensors([ok()], { k: 1 } as unknown as Record<string, string>)).toThrow(
      /metadata "k" must be a string, got 1/,
    );
    expect(() => serializeSafetensors({} as unknown as SerializableTensor[])).toThrow(ArgumentError);
  });
  it('parse rejects wrong arguments with ArgumentError', () => {
    expect(() => parseSafetensors([1, 2] as unknown as Uint8Array)).toThrow(ArgumentError);
    expect(() => parseSafetensors(rawFile({}), { maxHeaderBytes: -1 })).toThrow(/maxHeaderBytes/);
  });
});

// -------------------------------------------------------------------------------------------------
// The shipped MobileNetV2 weights (CI may not have ../shared).

const mobilenetPath = join(weightsDir, 'mobilenet_v2_1.0_224_no_top.safetensors');
const haveMobilenet = existsSync(mobilenetPath);
if (!haveMobilenet)
  console.log(`safetensors: SKIPPING MobileNetV2 test: ${mobilenetPath} not found (set WGSL_NN_WEIGHTS_DIR)`);

describe('shipped weights', () => {
  it.skipIf(!haveMobilenet)(
    `parses MobileNetV2 no_top: 260 tensors, 2,257,984 params${haveMobilenet ? '' : ` [skipped: ${mobilenetPath} absent]`}`,
    () => {
      const f = parseSafetensors(readFileSync(mobilenetPath), { source: mobilenetPath });
      expect(f.tensors.size).toBe(260);
      let params = 0;
      for (const [name, e] of f.tensors) {
        expect(e.dtype, name).toBe('F32');
        params += e.shape.reduce((a, b) => a * b, 1);
      }
      expect(params).toBe(2_257_984);
      expect(f.metadata.param_count).toBe('2257984');
      expect(f.tensors.get('Conv1/kernel')!.shape).toEqual([3, 3, 3, 32]);
      expect(f.tensors.get('block_16_depthwise/depthwise_kernel')!.shape).toEqual([3, 3, 960, 1]);
      expect(f.tensors.get('Conv_1/kernel')!.shape).toEqual([1, 1, 320, 1280]);
      // The README's BatchNorm convention: gamma = 1, moving_mean = 0, moving_variance = 0.999.
      const bn = (k: string) => new Set(toFloat32(f.tensors.get(`Conv_1_bn/${k}`)!));
      expect(bn('gamma')).toEqual(new Set([1]));
      expect(bn('moving_mean')).toEqual(new Set([0]));
      expect(bn('moving_variance')).toEqual(new Set([Math.fround(0.999)]));
      const k = toFloat32(f.tensors.get('Conv1/kernel')!);
      expect(k.every(Number.isFinite) && k.some((v) => v !== 0)).toBe(true);
      // Re-serializing what we parsed reproduces the shipped file byte for byte.
      const again = serializeSafetensors(
        [...f.tensors].map(([name, e]) => ({
          name,
          dtype: 'F32' as const,
          shape: e.shape,
          data: toFloat32(e),
        })),
        f.metadata,
      );
      expect(Buffer.from(again).equals(readFileSync(mobilenetPath))).toBe(true);
    },
  );
});

// -------------------------------------------------------------------------------------------------
// Hostile inputs: every one must throw WeightsFormatError naming the tensor (where there is one).

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
