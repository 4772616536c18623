import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightsFormatError } from '../src/io/errors.js';
import {
  parseSafetensors,
  type SafetensorsEntry,
  type SerializableTensor,
  serializeSafetensors,
  toFloat32,
  toInt32,
} from '../src/io/safetensors.js';
import { ArgumentError, DTypeError, ShapeError } from '../src/tensor/errors.js';
import { randArray, randInts, randShape, rng } from './helpers.js';
import { rawFile, T } from './safetensors-helpers.js';
import { weightsDir } from './shared-data.js';

/* The safetensors format: round trips, dtype conversions, argument errors and the shipped weights. */

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
