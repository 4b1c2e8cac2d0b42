/**
 * Normal-distribution pieces TPE needs, accurate in the far tails: erfc by a positive-term series
 * near 0 and a continued fraction beyond (both converge to full double precision without tabulated
 * coefficients), log Phi, the log mass of a standard normal on [a, b], and a truncated-normal draw.
 */
import type { Rng } from '../../study/rng';

const SQRT2 = Math.SQRT2;
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * erfc(x) for x >= 0 as log(erfc(x)) + x^2 = log of the scaled complementary error function, so that
 * callers can take logs for large x without underflow.
 */
function logErfcPlusSquare(x: number): number {
  if (x < 2.5) return Math.log1p(-erfSeries(x)) + x * x;
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), by modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -LOG_SQRT_PI - Math.log(f);
}

/** erf(x) for x >= 0: the series directly near 0 (exact for tiny x), 1 - erfc beyond. */
export function erf(x: number): number {
  if (x < 0) return -erf(-x);
  if (x < 2.5) return erfSeries(x);
  return 1 - erfc(x);
}

function erfSeries(x: number): number {
  // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)): every term positive.
  let term = x;
  let sum = x;
  const x2 = 2 * x * x;
  for (let n = 1; n < 200; n++) {
    term *= x2 / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  return Math.exp(logErfcPlusSquare(x) - x * x);
}

/** Standard normal CDF. */
export function ndtr(z: number): number {
  return 0.5 * erfc(-z / SQRT2);
}

/** log Phi(z), finite down to z = -1e150 or so. */
export function logNdtr(z: number): number {
  if (z === -Infinity) return -Infinity;
  if (z === Infinity) return 0;
  if (z < 0) {
    const x = -z / SQRT2;
    return Math.log(0.5) + logErfcPlusSquare(x) - x * x;
  }
  return Math.log1p(-0.5 * erfc(z / SQRT2));
}

/** log(Phi(b) - Phi(a)) for a <= b, without cancellation in either tail. */
export function logGaussMass(a: number, b: number): number {
  // Both ends beyond 8.3 sd: the missing mass is below 1e-16, so log(mass) is -0 to double precision.
  if (a < -8.3 && b > 8.3) return 0;
  if (b <= 0) {
    // Both in the left tail: log Phi(b) + log(1 - Phi(a)/Phi(b)).
    const lb = logNdtr(b);
    const la = logNdtr(a);
    return lb + log1mexp(la - lb);
  }
  if (a >= 0) return logGaussMass(-b, -a);
  // Straddles 0: (erf(b/sqrt2) + erf(-a/sqrt2)) / 2, a sum of two positive terms (no cancellation
  // even for a tiny interval around 0).
  return Math.log(0.5 * (erf(b / SQRT2) + erf(-a / SQRT2)));
}

/** log(1 - exp(x)) for x <= 0. */
function log1mexp(x: number): number {
  if (x === -Infinity) return 0;
  return x > -Math.LN2 ? Math.log(-Math.expm1(x)) : Math.log1p(-Math.exp(x));
}

/** log density of N(mu, sigma) truncated to [low, high], at x (inside). `logMass` = logGaussMass of the bounds. */
export function truncNormLogPdf(x: number, mu: number, sigma: number, logMass: number): number {
  const z = (x - mu) / sigma;
  return -0.5 * z * z - LOG_SQRT_2PI - Math.log(sigma) - logMass;
}

/**
 * A draw from N(mu, sigma) truncated to [low, high]. Rejection first: TPE's kernels are centred
 * inside the range with sigma at most its width, so at least a third of draws land inside. A
 * kernel centred far outside (an old trial with another range) falls back to inverting the CDF by
 * bisection.
 */
export function sampleTruncNorm(rng: Rng, mu: number, sigma: number, low: number, high: number): number {
  for (let i = 0; i < 64; i++) {
    const x = mu + sigma * rng.normal();
    if (x >= low && x <= high) return x;
  }
  const a = (low - mu) / sigma;
  const b = (high - mu) / sigma;
  const logTotal = logGaussMass(a, b);
  const target = Math.log(rng.random()) + logTotal;
  let lo = a;
  let hi = b;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * Math.max(1, Math.abs(lo)); i++) {
    const mid = 0.5 * (lo + hi);
    if (logGaussMass(a, mid) < target) lo = mid;
    else hi = mid;
  }
  return Math.min(high, Math.max(low, mu + sigma * 0.5 * (lo + hi)));
}
