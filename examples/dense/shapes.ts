/**
 * A deterministic 5-class image set drawn procedurally (no download): each 32x32 RGB image holds one
 * shape — disc, square, triangle, ring or cross — of random size, position and colour on a noisy
 * background. Values are 0..255 like decoded photos.
 */

export const SHAPE_CLASSES = ['disc', 'square', 'triangle', 'ring', 'cross'] as const;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inside(cls: number, dx: number, dy: number, r: number): boolean {
  switch (cls) {
    case 0:
      return dx * dx + dy * dy <= r * r;
    case 1:
      return Math.abs(dx) <= r * 0.8 && Math.abs(dy) <= r * 0.8;
    case 2:
      return dy <= r * 0.8 && dy >= -r && Math.abs(dx) <= (dy + r) * 0.55;
    case 3: {
      const d = Math.sqrt(dx * dx + dy * dy);
      return d <= r && d >= r * 0.55;
    }
    default:
      return (
        (Math.abs(dx) <= r * 0.25 && Math.abs(dy) <= r) || (Math.abs(dy) <= r * 0.25 && Math.abs(dx) <= r)
      );
  }
}

/** `n` images [n, size, size, 3] (float 0..255) and labels [n] (0..4), balanced, in shuffled order. */
export function makeShapes(n: number, seed = 1, size = 32): { images: Float32Array; labels: Int32Array } {
  const rand = mulberry32(seed);
  const images = new Float32Array(n * size * size * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % SHAPE_CLASSES.length;
    labels[i] = cls;
    const r = size * (0.2 + 0.15 * rand());
    const cx = r + (size - 2 * r) * rand();
    const cy = r + (size - 2 * r) * rand();
    const bg = [rand() * 120, rand() * 120, rand() * 120];
    const fg = [110 + rand() * 145, 110 + rand() * 145, 110 + rand() * 145];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const on = inside(cls, x + 0.5 - cx, y + 0.5 - cy, r);
        const o = ((i * size + y) * size + x) * 3;
        for (let c = 0; c < 3; c++) {
          const v = (on ? fg[c] : bg[c]) + (rand() - 0.5) * 40;
          images[o + c] = Math.min(255, Math.max(0, v));
        }
      }
    }
  }
  // Shuffle image order so batches mix classes.
  const px = size * size * 3;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tl = labels[i];
    labels[i] = labels[j];
    labels[j] = tl;
    const a = images.slice(i * px, (i + 1) * px);
    images.copyWithin(i * px, j * px, (j + 1) * px);
    images.set(a, j * px);
  }
  return { images, labels };
}
