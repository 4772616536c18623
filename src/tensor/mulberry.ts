/**
 * mulberry32: a small, fast, seedable generator of uniform numbers in [0, 1) on the CPU, for
 * shuffles and per-image augmentation parameters (GPU random tensors use random-kernel.ts).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
