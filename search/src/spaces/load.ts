import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { searchSpaceFile, type SearchSpaceFile } from './schema';

/** A bad search-space file: one line naming the file, the field, the value and what was expected. */
export class SearchSpaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SearchSpaceError';
  }
}

function at(data: unknown, p: readonly PropertyKey[]): unknown {
  let cur = data;
  for (const k of p) cur = cur && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}

function describe(issue: z.core.$ZodIssue, data: unknown): string {
  const field = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  const value = at(data, issue.path);
  const got = value === undefined ? 'nothing' : JSON.stringify(value);
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')} in "${field}"`;
  return `field "${field}": got ${got}, expected ${issue.message.replace(/^Invalid input: expected /, '')}`;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; anything else is replaced. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Validates raw JSON; `configuration` (e.g. "smoke") is merged over the base first. */
export function parseSearchSpace(raw: unknown, where: string, configuration?: string): SearchSpaceFile {
  let data = raw;
  if (configuration) {
    const confs = isObj(raw) && isObj(raw.configurations) ? raw.configurations : {};
    if (!(configuration in confs)) {
      throw new SearchSpaceError(`${where}: no configuration "${configuration}" (known: ${Object.keys(confs).join(', ') || 'none'})`);
    }
    data = deepMerge(raw, confs[configuration]);
  }
  const parsed = searchSpaceFile.safeParse(data);
  if (!parsed.success) throw new SearchSpaceError(`${where}: ${describe(parsed.error.issues[0], data)}`);
  const s = parsed.data;
  for (const [name, p] of Object.entries(s.params)) {
    if (p.type !== 'categorical') {
      if (p.low > p.high) throw new SearchSpaceError(`${where}: field "params.${name}": low ${p.low} is above high ${p.high}`);
      if (p.log && p.low <= 0) throw new SearchSpaceError(`${where}: field "params.${name}.low": got ${p.low}, expected a number > 0 for a log scale`);
      if (p.log && p.type === 'float' && p.step !== null) throw new SearchSpaceError(`${where}: field "params.${name}": a log scale cannot have a step`);
    }
    for (const [dep, values] of Object.entries(p.when ?? {})) {
      const d = s.params[dep];
      if (!d || d.type !== 'categorical') throw new SearchSpaceError(`${where}: field "params.${name}.when.${dep}": expected the name of a categorical parameter`);
      for (const v of values) {
        if (!d.choices.includes(v)) throw new SearchSpaceError(`${where}: field "params.${name}.when.${dep}": got ${JSON.stringify(v)}, expected one of ${JSON.stringify(d.choices)}`);
      }
    }
    if (name in s.fixed) throw new SearchSpaceError(`${where}: parameter "${name}" is both fixed and searched`);
  }
  if (typeof s.plugin !== 'string') {
    const sel = s.params[s.plugin.param];
    const fixedSel = s.fixed[s.plugin.param];
    const choices = sel?.type === 'categorical' ? sel.choices : fixedSel !== undefined ? [fixedSel] : null;
    if (!choices) throw new SearchSpaceError(`${where}: field "plugin.param": "${s.plugin.param}" must be a categorical parameter or a fixed value`);
    for (const c of choices) {
      if (!(String(c) in s.plugin.map)) throw new SearchSpaceError(`${where}: field "plugin.map": no entry for ${s.plugin.param}=${JSON.stringify(c)}`);
    }
  }
  return s;
}

/**
 * Where a JSON text goes wrong: the shortest prefix that fails for another reason than ending too
 * early (V8's messages do not always give a position). Binary search: "prefix is fine so far" is
 * monotone in the prefix length.
 */
function jsonErrorOffset(text: string): number {
  const okSoFar = (n: number): boolean => {
    try {
      JSON.parse(text.slice(0, n));
      return true;
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      // Failing *at the end* of the prefix only means the text was cut there.
      return m ? Number(m[1]) >= n : /end of JSON input/.test((e as Error).message);
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (okSoFar(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Reads `file` (JSON); a name without a path is looked up in `spacesDir`. */
export function loadSearchSpace(file: string, configuration?: string, spacesDir?: string): SearchSpaceFile {
  let resolved = file;
  if (!fs.existsSync(resolved) && spacesDir && !file.includes('/')) resolved = path.join(spacesDir, file.endsWith('.json') ? file : `${file}.json`);
  if (!fs.existsSync(resolved)) throw new SearchSpaceError(`${file}: search-space file not found${spacesDir ? ` (also looked in ${spacesDir})` : ''}`);
  const text = fs.readFileSync(resolved, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const line = text.slice(0, jsonErrorOffset(text)).split('\n').length;
    throw new SearchSpaceError(`${resolved}${line ? `:${line}` : ''}: not valid JSON (${(e as Error).message})`);
  }
  return parseSearchSpace(raw, resolved, configuration);
}
