import type { FloatDistribution, IntDistribution } from './distributions';
import type { SuggestOptions } from './trial';

/**
 * Validates the arguments of suggestFloat / suggestInt and builds the distribution. As in Optuna, a
 * `high` that is not on the step grid is lowered to the last grid point (so every value is reachable).
 */
export function checkSuggestArgs(
  name: string,
  kind: 'float' | 'int',
  low: number,
  high: number,
  opts: SuggestOptions,
): FloatDistribution | IntDistribution {
  const where = `suggest${kind === 'float' ? 'Float' : 'Int'}("${name}")`;
  const log = opts.log ?? false;
  const step = opts.step ?? null;
  if (!Number.isFinite(low) || !Number.isFinite(high)) throw new Error(`${where}: low and high must be finite numbers, got ${low} and ${high}`);
  if (low > high) throw new Error(`${where}: low (${low}) must be <= high (${high})`);
  if (log && step !== null && !(kind === 'int' && step === 1)) throw new Error(`${where}: step (${step}) cannot be used with log=true`);
  if (log && low <= 0) throw new Error(`${where}: log=true needs low > 0, got low=${low}`);
  if (step !== null && !(step > 0)) throw new Error(`${where}: step must be > 0, got ${step}`);
  if (kind === 'int') {
    if (!Number.isInteger(low) || !Number.isInteger(high)) throw new Error(`${where}: low and high must be integers, got ${low} and ${high}`);
    const s = step ?? 1;
    if (!Number.isInteger(s)) throw new Error(`${where}: step must be an integer, got ${s}`);
    const h = high - ((high - low) % s);
    return { kind: 'int', low, high: h, log, step: s };
  }
  if (step !== null) {
    // Work in units of `step` and round to kill float noise (e.g. (1 - 0) / 0.1 = 9.999999999999998).
    const n = Math.floor(roundTo((high - low) / step, 10));
    const h = roundTo(low + n * step, 12);
    return { kind: 'float', low, high: Math.min(h, high), log, step };
  }
  return { kind: 'float', low, high, log, step: null };
}

function roundTo(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}
