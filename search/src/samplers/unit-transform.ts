import type { Distribution } from '../study/distributions';

/**
 * Maps a coordinate u in [0, 1) to an internal value of `d`, uniformly in the space the distribution
 * lives in (log space for log=true). A stepped or integer range is widened by half a step at each
 * end before rounding, so every grid point, the ends included, gets an equal share.
 */
export function fromUnit(d: Distribution, u: number): number {
  if (d.kind === 'categorical') return Math.min(d.choices.length - 1, Math.floor(u * d.choices.length));
  if (d.kind === 'float' && d.step === null) {
    if (d.log) {
      const a = Math.log(d.low);
      const b = Math.log(d.high);
      return clip(Math.exp(a + u * (b - a)), d.low, d.high);
    }
    return clip(d.low + u * (d.high - d.low), d.low, d.high);
  }
  const step = d.step as number;
  if (d.log) {
    // Integer log ranges: widen by 0.5 in linear units, draw in log space.
    const a = Math.log(d.low - 0.5);
    const b = Math.log(d.high + 0.5);
    return snapToGrid(d, Math.exp(a + u * (b - a)));
  }
  const a = d.low - step / 2;
  const b = d.high + step / 2;
  return snapToGrid(d, a + u * (b - a));
}

/** Rounds to the nearest point low + k*step within [low, high] (integers for int distributions). */
export function snapToGrid(d: Distribution, x: number): number {
  if (d.kind === 'categorical') return clip(Math.round(x), 0, d.choices.length - 1);
  const step = d.step ?? null;
  if (step === null) return clip(x, d.low, d.high);
  const k = Math.round((x - d.low) / step);
  let v = d.low + k * step;
  // Float steps accumulate error (0.1 * 3 = 0.30000000000000004): round to the step's precision.
  if (d.kind === 'float') v = Number(v.toPrecision(15));
  else v = Math.round(v);
  return clip(v, d.low, d.high);
}

export function clip(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
