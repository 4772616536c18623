/**
 * Generated tasks with exact answers, as language modelling. A problem is a prompt of P tokens
 * followed by an answer of A tokens; the model reads the first P + A - 1 tokens and is trained to
 * predict the answer at positions P-1 .. P+A-2. Tokens 0-9 are digits; the rest are symbols.
 *
 * - `reverse`: `d_1 .. d_L SEP` -> `d_L .. d_1`.
 * - `add`: `a_1 .. a_L + b_1 .. b_L =` (most significant digit first) -> the L+1 digits of a + b,
 *   least significant first (the order in which carries are computed, as in most small-transformer
 *   addition studies).
 */
export const SEP = 10;
export const PLUS = 11;
export const EQ = 12;

/** mulberry32: a seeded generator, so the data are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type TaskName = 'reverse' | 'add';

export class Task {
  readonly vocab = 13;
  /** Prompt length P and answer length A. */
  readonly promptLength: number;
  readonly answerLength: number;
  /** P + A - 1: the model's input length. */
  readonly inputLength: number;
  private readonly held = new Set<string>();
  private readonly r: () => number;

  constructor(
    readonly name: TaskName,
    readonly digits: number,
    seed: number,
  ) {
    this.promptLength = name === 'reverse' ? digits + 1 : 2 * digits + 2;
    this.answerLength = name === 'reverse' ? digits : digits + 1;
    this.inputLength = this.promptLength + this.answerLength - 1;
    this.r = rng(seed);
  }

  get description(): string {
    return this.name === 'reverse' ? `reverse ${this.digits} digits` : `add two ${this.digits}-digit numbers`;
  }

  /** Tokens as text: digits, | + =. */
  static text(t: ArrayLike<number>): string {
    return Array.from(t, (v) => (v < 10 ? String(v) : ['|', '+', '='][v - 10])).join('');
  }

  /** An answer as a person reads it (a sum most significant digit first). */
  answerText(a: ArrayLike<number>): string {
    const s = Task.text(a);
    return this.name === 'add' ? [...s].reverse().join('') : s;
  }

  /** One random problem: prompt and answer tokens. */
  private draw(): { prompt: number[]; answer: number[] } {
    const d = () => Array.from({ length: this.digits }, () => Math.floor(this.r() * 10));
    if (this.name === 'reverse') {
      const x = d();
      return { prompt: [...x, SEP], answer: [...x].reverse() };
    }
    const a = d();
    const b = d();
    const answer: number[] = [];
    let carry = 0;
    for (let i = this.digits - 1; i >= 0; i--) {
      const s = a[i] + b[i] + carry;
      answer.push(s % 10);
      carry = s >= 10 ? 1 : 0;
    }
    answer.push(carry);
    return { prompt: [...a, PLUS, ...b, EQ], answer };
  }

  /** `n` distinct problems, reserved: training batches never contain them. */
  heldOut(n: number): { prompts: Int32Array[]; answers: Int32Array[] } {
    const prompts: Int32Array[] = [];
    const answers: Int32Array[] = [];
    while (prompts.length < n) {
      const { prompt, answer } = this.draw();
      const key = prompt.join(',');
      if (this.held.has(key)) continue;
      this.held.add(key);
      const p = new Int32Array(this.inputLength);
      p.set(prompt);
      prompts.push(p);
      answers.push(Int32Array.from(answer));
    }
    return { prompts, answers };
  }

  /** A training batch: inputs [n, P + A - 1] and answers [n * A], no held-out problem among them. */
  batch(n: number): { inputs: Int32Array; answers: Int32Array } {
    const A = this.answerLength;
    const inputs = new Int32Array(n * this.inputLength);
    const answers = new Int32Array(n * A);
    for (let i = 0; i < n; i++) {
      let p = this.draw();
      while (this.held.has(p.prompt.join(','))) p = this.draw();
      inputs.set([...p.prompt, ...p.answer.slice(0, A - 1)], i * this.inputLength);
      answers.set(p.answer, i * A);
    }
    return { inputs, answers };
  }
}
