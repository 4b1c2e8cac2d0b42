/** `n` reproducible values in [-2, 2) from a linear congruential stream: fixed inputs for gradient checks. */
export function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 4 - 2;
  });
}
