import { linearIndex, whole } from './dispatch.js';
import { DeviceError } from './errors.js';
import { type BufferBinding, runKernel } from './queue.js';
import { Tensor } from './tensor.js';

/**
 * The kernel declaration helper: a kernel states its storage bindings, its uniforms, its
 * compile-time constants and its body once; `defineKernel` writes the WGSL preamble (enables,
 * uniform struct, bindings, the `main` signature and the bounds check), packs the uniform bytes in
 * declaration order, and keys the pipeline cache on the generated source, so a stale key cannot
 * happen. The body is a pure function of the constants: whatever it bakes in is in the source.
 *
 * ```ts
 * const scale = defineKernel({
 *   name: 'scale',
 *   bindings: { x: 'read f32', out: 'rw f32' },
 *   uniforms: { n: 'u32', k: 'f32' },
 *   index: { total: 'n' },
 *   body: () => 'out[i] = x[i] * p.k;',
 * });
 * scale.run({ buffers: { x, out }, uniforms: { n: x.size, k: 2 }, workgroups: grid(x.size) });
 * ```
 */

/** A storage binding: `'read T'` or `'rw T'` declares `var<storage, read|read_write> name: array<T>`. */
export type BindingSpec = `${'read' | 'rw'} ${string}`;

/** Uniform field types: 4-byte scalars, 4-vectors and arrays of 4-vectors (16-byte aligned). */
export type UniformType =
  | 'u32'
  | 'i32'
  | 'f32'
  | 'vec4u'
  | 'vec4i'
  | 'vec4f'
  | `array<vec4${'u' | 'i' | 'f'}, ${number}>`;

/** Compile-time constants: plain JSON values that the body (and bindings) may bake into the WGSL. */
export type Constants = Readonly<Record<string, string | number | boolean | readonly number[] | null>>;

/** The builtins `main` may receive, by the name the body uses. */
export type Builtin = 'gid' | 'nwg' | 'wid' | 'lid' | 'lid3' | 'sgi' | 'sgid' | 'sgs';

const BUILTINS: Record<Builtin, string> = {
  gid: '@builtin(global_invocation_id) gid: vec3u',
  nwg: '@builtin(num_workgroups) nwg: vec3u',
  wid: '@builtin(workgroup_id) wid: vec3u',
  lid: '@builtin(local_invocation_index) lid: u32',
  lid3: '@builtin(local_invocation_id) lid3: vec3u',
  sgi: '@builtin(subgroup_invocation_id) sgi: u32',
  sgid: '@builtin(subgroup_id) sgid: u32',
  sgs: '@builtin(subgroup_size) sgs: u32',
};

type OrFn<C, T> = T | ((c: C) => T);

export interface KernelDecl<C extends Constants, B extends string, U extends string> {
  /** The family name: names the pipeline in profiles and errors. Unique among kernels. */
  name: string;
  /**
   * Storage bindings in binding order (object order). May depend on the constants (element types);
   * a binding whose spec is null or undefined is left out for those constants (an optional operand
   * such as a bias), and the later ones move up.
   */
  bindings: OrFn<C, Readonly<Partial<Record<B, BindingSpec | null>>>>;
  /** Uniform fields in struct order, read in WGSL as `p.<name>`. May depend on the constants. */
  uniforms?: OrFn<C, Readonly<Record<U, UniformType>>>;
  /** Workgroup size: one number (x) or [x, y, z]. Default 256. */
  workgroupSize?: OrFn<C, number | readonly [number, number, number]>;
  /** Builtins passed to `main` (default gid and nwg). */
  builtins?: OrFn<C, readonly Builtin[]>;
  /** WGSL extensions to enable ('f16', 'subgroups'). */
  enables?: OrFn<C, ReadonlyArray<'f16' | 'subgroups'>>;
  /**
   * The bounds check: `let <name> = <flat index of a grid() dispatch>; if (<name> >= p.<total>) { return; }`
   * at the top of `main` (name defaults to `i`).
   */
  index?: { total: NoInfer<U>; name?: string };
  /** WGSL placed before `main`: helper functions, workgroup variables, constants. */
  helpers?: (c: C) => string;
  /** The statements of `main`. */
  body: (c: C) => string;
}

/** One dispatch of a declared kernel. */
export interface KernelRun<C extends Constants, B extends string, U extends string> {
  constants?: C;
  /** A tensor binds whole; a BufferBinding binds a range; undefined for a binding left out. */
  buffers: Readonly<Record<B, Tensor | BufferBinding | undefined>>;
  uniforms?: Readonly<Record<U, number | readonly number[]>>;
  workgroups: readonly [number, number?, number?];
}

/** A declared kernel: `run` records one dispatch; `source` is the WGSL for some constants. */
export interface Kernel<C extends Constants, B extends string, U extends string> {
  readonly name: string;
  source(constants?: C): string;
  run(r: KernelRun<C, B, U>): void;
}

interface Field {
  name: string;
  type: UniformType;
  offset: number;
  /** 4-byte words. */
  words: number;
  kind: 'u' | 'i' | 'f';
}

/** The std140-like layout of the uniform struct: scalars 4-aligned, vectors and arrays 16-aligned. */
function layout(uniforms: Readonly<Record<string, UniformType>>): { fields: Field[]; bytes: number } {
  const fields: Field[] = [];
  let at = 0;
  for (const [name, type] of Object.entries(uniforms)) {
    const arr = /^array<vec4([uif]), (\d+)>$/.exec(type);
    const vec = /^vec4([uif])$/.exec(type);
    const scalar = /^([uif])32$/.exec(type);
    const kind = (arr?.[1] ?? vec?.[1] ?? scalar?.[1]) as Field['kind'] | undefined;
    if (!kind) throw new DeviceError(`defineKernel: uniform ${name} has unknown type ${type}`);
    const words = arr ? 4 * Number(arr[2]) : vec ? 4 : 1;
    if (words > 1) at = Math.ceil(at / 16) * 16;
    fields.push({ name, type, offset: at, words, kind });
    at += words * 4;
  }
  return { fields, bytes: Math.max(16, Math.ceil(at / 16) * 16) };
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['p', 'P', 'main']);
const names = new Set<string>();

function resolve<C, T>(v: OrFn<C, T>, c: C): T {
  return typeof v === 'function' ? (v as (c: C) => T)(c) : v;
}

/** Declares a kernel (once, at module load). See the file comment. */
export function defineKernel<
  C extends Constants = Record<string, never>,
  B extends string = string,
  U extends string = never,
>(decl: KernelDecl<C, B, U>): Kernel<C, B, U> {
  if (names.has(decl.name)) throw new DeviceError(`defineKernel: a kernel named ${decl.name} exists already`);
  names.add(decl.name);
  const sources = new Map<
    string,
    { code: string; label: string; fields: Field[]; bytes: number; order: string[] }
  >();

  function compile(c: C) {
    const key = JSON.stringify(c);
    let s = sources.get(key);
    if (s) return s;
    const declared = resolve(decl.bindings, c) as Record<string, BindingSpec | null | undefined>;
    const bindings: Record<string, BindingSpec> = {};
    for (const [n, spec] of Object.entries(declared))
      if (spec !== undefined && spec !== null) bindings[n] = spec;
    const uniforms = (decl.uniforms ? resolve(decl.uniforms, c) : {}) as Record<string, UniformType>;
    const order = Object.keys(bindings);
    for (const n of [...order, ...Object.keys(uniforms)]) {
      if (!IDENT.test(n) || RESERVED.has(n))
        throw new DeviceError(`defineKernel ${decl.name}: bad name ${n}`);
    }
    const { fields, bytes } = layout(uniforms);
    const lines: string[] = [];
    for (const e of resolve(decl.enables ?? [], c)) lines.push(`enable ${e};`);
    lines.push(`// ${decl.name}`);
    if (fields.length) lines.push(`struct P { ${fields.map((f) => `${f.name}: ${f.type}`).join(', ')} }`);
    order.forEach((n, i) => {
      const m = /^(read|rw) (.+)$/.exec(bindings[n]);
      if (!m) throw new DeviceError(`defineKernel ${decl.name}: binding ${n} must be 'read T' or 'rw T'`);
      const access = m[1] === 'rw' ? 'read_write' : 'read';
      lines.push(`@group(0) @binding(${i}) var<storage, ${access}> ${n}: array<${m[2]}>;`);
    });
    if (fields.length) lines.push(`@group(0) @binding(${order.length}) var<uniform> p: P;`);
    if (decl.helpers) lines.push(decl.helpers(c));
    const wg = resolve(decl.workgroupSize ?? 256, c);
    const [wx, wy, wz] = typeof wg === 'number' ? [wg, 1, 1] : wg;
    const builtins = new Set<Builtin>(resolve(decl.builtins ?? ['gid', 'nwg'], c));
    let guard = '';
    if (decl.index) {
      builtins.add('gid').add('nwg');
      const i = decl.index.name ?? 'i';
      guard = `  let ${i} = ${linearIndex(wx)};\n  if (${i} >= p.${decl.index.total}) { return; }\n`;
    }
    const params = [...builtins].map((b) => BUILTINS[b]).join(',\n        ');
    lines.push(
      `@compute @workgroup_size(${wx}, ${wy}, ${wz})\nfn main(${params}) {\n${guard}${decl.body(c)}\n}`,
    );
    const label = key === '{}' ? decl.name : `${decl.name} ${key}`;
    s = { code: lines.join('\n'), label, fields, bytes, order };
    sources.set(key, s);
    return s;
  }

  return {
    name: decl.name,
    source: (constants) => compile((constants ?? {}) as C).code,
    run(r) {
      const s = compile((r.constants ?? {}) as C);
      const buffers = r.buffers as Readonly<Record<string, Tensor | BufferBinding | undefined>>;
      const bound = s.order.map((n) => {
        const b = buffers[n];
        if (b === undefined) throw new DeviceError(`${decl.name}: no buffer for binding ${n}`);
        return b instanceof Tensor ? whole(b) : b;
      });
      let params: ArrayBuffer | undefined;
      if (s.fields.length) {
        const values = (r.uniforms ?? {}) as Readonly<Record<string, number | readonly number[]>>;
        const view = new DataView(new ArrayBuffer(s.bytes));
        for (const f of s.fields) {
          const v = values[f.name];
          const list = typeof v === 'number' ? [v] : v;
          if (list === undefined || list.length > f.words || (f.words === 1 && typeof v !== 'number')) {
            throw new DeviceError(`${decl.name}: uniform ${f.name} (${f.type}) got ${JSON.stringify(v)}`);
          }
          list.forEach((x, k) => {
            const at = f.offset + 4 * k;
            if (f.kind === 'f') view.setFloat32(at, x, true);
            else if (f.kind === 'i') view.setInt32(at, x | 0, true);
            else view.setUint32(at, x >>> 0, true);
          });
        }
        params = view.buffer;
      }
      runKernel({ key: s.label, source: s.code, buffers: bound, params, workgroups: r.workgroups });
    },
  };
}
