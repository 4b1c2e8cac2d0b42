/**
 * Seeded randomness of the training loop with a state that can be saved and restored, so that a
 * resumed run draws exactly what the uninterrupted run would have drawn (mixing coefficients,
 * classifier re-initialisation). mulberry32 generator; Beta through two Gamma draws.
 */
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller; one of the pair is discarded to keep the state a single integer). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Gamma(shape, 1), Marsaglia and Tsang (2000); shape < 1 through the boost Gamma(a+1) * U^(1/a). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new Error(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      const u = 1 - this.next();
      return this.gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    const s = x + y;
    // Both draws underflow to 0 only for tiny shapes; the limit is a fair coin between 0 and 1.
    return s > 0 ? x / s : this.next() < a / (a + b) ? 1 : 0;
  }
}

/** Mixes integers into one 32-bit seed (so epoch e of seed s gets its own, reproducible stream). */
export function seedFrom(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    let k = Math.imul((p >>> 0) ^ Math.floor(p / 4294967296), 0x9e3779b1);
    k ^= k >>> 16;
    h = Math.imul(h ^ k, 0x01000193) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}
