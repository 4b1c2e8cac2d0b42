/** A number as the report shows it: four significant digits; small integers (counts, steps) as they are. */
export function sig4(x: unknown): string {
  if (typeof x !== 'number') return x === undefined || x === null ? '' : String(x);
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e4) return String(x);
  return x.toPrecision(4);
}

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
