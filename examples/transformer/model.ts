/**
 * A small decoder-only transformer (GPT-style, pre-norm): token + learned position embeddings,
 * `layers` blocks of x + MultiHeadAttention(LayerNorm(x), causal) and x + MLP(LayerNorm(x)) with a
 * gelu hidden layer 4x wide, a final LayerNorm and a Dense head to the vocabulary.
 */
import {
  add,
  Dense,
  LayerNormalization,
  MultiHeadAttention,
  type Tensor,
  TokenAndPositionEmbedding,
  type Variable,
} from '../../src/index.js';

export interface GptConfig {
  vocab: number;
  /** Longest input sequence. */
  seqLen: number;
  dim: number;
  heads: number;
  layers: number;
  seed: number;
}

interface Block {
  ln1: LayerNormalization;
  attn: MultiHeadAttention;
  ln2: LayerNormalization;
  up: Dense;
  down: Dense;
}

export class Gpt {
  readonly embed: TokenAndPositionEmbedding;
  readonly blocks: Block[];
  readonly lnF: LayerNormalization;
  readonly head: Dense;

  constructor(readonly cfg: GptConfig) {
    const { vocab, seqLen, dim, heads, layers, seed } = cfg;
    this.embed = new TokenAndPositionEmbedding({
      name: 'embed',
      vocabularySize: vocab,
      sequenceLength: seqLen,
      embeddingDim: dim,
      // Token and position tables of the same scale (Keras' default token init, U(-0.05, 0.05), is
      // 5x smaller than the glorot position table: content then learns slowly).
      embeddingsInitializer: 'glorotUniform',
      seed,
    });
    this.blocks = Array.from({ length: layers }, (_, l) => ({
      ln1: new LayerNormalization({ name: `block${l}/ln1`, epsilon: 1e-5 }),
      attn: new MultiHeadAttention({
        name: `block${l}/attn`,
        numHeads: heads,
        keyDim: dim / heads,
        seed: seed + 10 * l + 1,
      }),
      ln2: new LayerNormalization({ name: `block${l}/ln2`, epsilon: 1e-5 }),
      up: new Dense({
        name: `block${l}/mlp_up`,
        units: 4 * dim,
        activation: 'gelu',
        seed: seed + 10 * l + 2,
      }),
      down: new Dense({ name: `block${l}/mlp_down`, units: dim, seed: seed + 10 * l + 3 }),
    }));
    this.lnF = new LayerNormalization({ name: 'ln_f', epsilon: 1e-5 });
    this.head = new Dense({ name: 'head', units: vocab, seed: seed + 999 });
  }

  /** Logits [batch, T, vocab] for int32 ids [batch, T]. */
  apply(ids: Tensor, training = false): Tensor {
    let x = this.embed.apply(ids);
    for (const b of this.blocks) {
      const h = b.ln1.apply(x);
      x = add(x, b.attn.apply(h, { useCausalMask: true, training }));
      x = add(x, b.down.apply(b.up.apply(b.ln2.apply(x))));
    }
    return this.head.apply(this.lnF.apply(x));
  }

  get layers() {
    return [
      this.embed,
      ...this.blocks.flatMap((b) => [b.ln1, b.attn, b.ln2, b.up, b.down]),
      this.lnF,
      this.head,
    ];
  }

  get trainableWeights(): Variable[] {
    return this.layers.flatMap((l) => l.trainableWeights);
  }

  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}
