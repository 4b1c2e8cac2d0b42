/**
 * JSON as Python's `json` module writes it: non-finite floats appear as the bare tokens `NaN`,
 * `Infinity` and `-Infinity` (Optuna journals contain them for NaN intermediate values and inf
 * objectives). JSON.parse rejects them and JSON.stringify turns them into null, so both directions
 * go through a marker string that no real JSON text produces (a NUL character is always escaped).
 */
const MARK = '\u0000py:';
const TOKENS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

export function stringifyPython(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return MARK + (Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');
    return v;
  });
  if (!text.includes('\\u0000py:')) return text;
  return text.replace(/"\\u0000py:(NaN|Infinity|-Infinity)"/g, '$1');
}

/** Replaces bare NaN/Infinity tokens outside strings by marker strings, then parses. */
export function parsePython(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    if (!/NaN|Infinity/.test(text)) throw e;
  }
  let out = '';
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '"') inString = false;
      i++;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      i++;
      continue;
    }
    const tok = text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : text.startsWith('NaN', i) ? 'NaN' : null;
    if (tok) {
      out += JSON.stringify(MARK + tok);
      i += tok.length;
      continue;
    }
    out += c;
    i++;
  }
  return JSON.parse(out, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(MARK) && v.slice(MARK.length) in TOKENS ? TOKENS[v.slice(MARK.length)] : v));
}
