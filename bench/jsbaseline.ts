/**
 * Pure-JS reference point for matmul: the straightforward i-k-j loop on Float32Array, which walks
 * B and C row by row (unit stride) so it is cache-friendly without any blocking or SIMD.
 */

/** C[M,N] = A[M,K] @ B[K,N], all row-major. Accumulates in C (float32), like a naive GPU kernel. */
export function matmulJs(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  if (a.length !== m * k || b.length !== k * n) {
    throw new Error(
      `matmulJs: expected A of ${m * k} and B of ${k * n} values, got ${a.length} and ${b.length}`,
    );
  }
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const rowA = i * k;
    const rowC = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[rowA + p];
      const rowB = p * n;
      for (let j = 0; j < n; j++) c[rowC + j] += aip * b[rowB + j];
    }
  }
  return c;
}
