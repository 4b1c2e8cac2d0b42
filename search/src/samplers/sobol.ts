import type { Rng } from '../study/rng';
import table from './sobol-direction-numbers.json';

const BITS = 32;
/** [primitive polynomial (with its leading and trailing 1 bits), initial m values] per dimension. */
const DIMS = table.dims as unknown as [number, number[]][];
export const SOBOL_MAX_DIMS = DIMS.length;

/**
 * A Sobol low-discrepancy sequence (Joe–Kuo direction numbers), optionally scrambled with a random
 * lower-triangular linear matrix and a digital shift per dimension (Owen-type LMS + shift), which
 * keeps the sequence's balance properties while making it random and seedable.
 * Points are addressed by index, so concurrent workers can each take a different one.
 */
export class SobolSequence {
  /** directions[d][k]: the k-th direction number of dimension d, as 32 binary digits (MSB first). */
  private readonly directions: Uint32Array[];
  private readonly shifts: Uint32Array;

  constructor(
    readonly dims: number,
    rng: Rng | null,
  ) {
    if (!(Number.isInteger(dims) && dims >= 1 && dims <= SOBOL_MAX_DIMS)) {
      throw new Error(`Sobol sequence: dimensions must be an integer in [1, ${SOBOL_MAX_DIMS}], got ${dims}`);
    }
    this.directions = [];
    this.shifts = new Uint32Array(dims);
    for (let d = 0; d < dims; d++) {
      let v = directionNumbers(d);
      if (rng) {
        v = linearScramble(v, rng);
        this.shifts[d] = rng.nextUint32();
      }
      this.directions.push(v);
    }
  }

  /** Point `index` (0-based, in Gray-code order as usual), each coordinate in [0, 1). */
  point(index: number): number[] {
    if (!(Number.isInteger(index) && index >= 0 && index < 2 ** 31)) throw new Error(`Sobol sequence: index must be an integer in [0, 2^31), got ${index}`);
    const gray = index ^ (index >>> 1);
    const out = new Array<number>(this.dims);
    for (let d = 0; d < this.dims; d++) {
      let x = this.shifts[d];
      const v = this.directions[d];
      for (let k = 0, i = gray; i > 0; k++, i >>>= 1) if (i & 1) x ^= v[k];
      out[d] = (x >>> 0) / 2 ** BITS;
    }
    return out;
  }
}

/** Direction numbers of dimension d from its primitive polynomial and initial values. */
function directionNumbers(d: number): Uint32Array {
  const [poly, init] = DIMS[d];
  const v = new Uint32Array(BITS);
  const s = Math.floor(Math.log2(poly));
  const m = new Array<number>(BITS);
  if (s === 0) {
    for (let k = 0; k < BITS; k++) m[k] = 1; // the first dimension: van der Corput
  } else {
    for (let k = 0; k < s; k++) m[k] = init[k];
    for (let k = s; k < BITS; k++) {
      // m_k = 2^s m_{k-s} xor m_{k-s} xor sum_j 2^j a_j m_{k-j}, a_j the polynomial's inner coefficients.
      let x = m[k - s] ^ (m[k - s] * 2 ** s);
      for (let j = 1; j < s; j++) {
        const a = Math.floor(poly / 2 ** (s - j)) % 2;
        if (a) x ^= m[k - j] * 2 ** j;
      }
      m[k] = x;
    }
  }
  // v_k = m_k / 2^(k+1), as a 32-bit binary fraction.
  for (let k = 0; k < BITS; k++) v[k] = (m[k] * 2 ** (BITS - 1 - k)) >>> 0;
  return v;
}

/** Multiplies each direction number by a random unit lower-triangular binary matrix. */
function linearScramble(v: Uint32Array, rng: Rng): Uint32Array {
  // Row r (output digit r, MSB first) mixes input digits 0..r: the diagonal bit is 1, the others random.
  const rows = new Uint32Array(BITS);
  for (let r = 0; r < BITS; r++) {
    const diag = (1 << (BITS - 1 - r)) >>> 0;
    const above = r === 0 ? 0 : (~((1 << (BITS - r)) - 1) >>> 0) & 0xffffffff; // digits 0..r-1
    rows[r] = ((rng.nextUint32() & above) | diag) >>> 0;
  }
  const out = new Uint32Array(BITS);
  for (let k = 0; k < BITS; k++) {
    let x = 0;
    for (let r = 0; r < BITS; r++) if (parity(rows[r] & v[k])) x |= 1 << (BITS - 1 - r);
    out[k] = x >>> 0;
  }
  return out;
}

function parity(x: number): number {
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  x ^= x >>> 2;
  x ^= x >>> 1;
  return x & 1;
}
