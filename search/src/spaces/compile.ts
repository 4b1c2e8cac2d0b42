import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Distribution, ParamValue } from '../study/distributions';
import { StudyDirection } from '../study/trial-types';
import { SearchSpaceError } from './load';
import { currentMetricName, legacyMetricNote, testSelectionNote } from './metric-names';
import type { ParamSpace, SearchSpaceFile } from './schema';

/** What a trial runs: the plugin (package name or path) and its full parameter set. */
export interface TrialPlan {
  plugin: string;
  params: Record<string, unknown>;
}

/** The minimal "ask a parameter" surface of a trial (the core's Trial has it). */
export interface Suggester {
  suggestFloat(name: string, low: number, high: number, opts?: { log?: boolean; step?: number | null }): Promise<number>;
  suggestInt(name: string, low: number, high: number, opts?: { log?: boolean; step?: number | null }): Promise<number>;
  suggestCategorical<T extends ParamValue>(name: string, choices: readonly T[]): Promise<T>;
}

export function toDistribution(p: ParamSpace): Distribution {
  if (p.type === 'categorical') return { kind: 'categorical', choices: [...p.choices] };
  if (p.type === 'int') return { kind: 'int', low: p.low, high: p.high, log: p.log, step: p.step };
  return { kind: 'float', low: p.low, high: p.high, log: p.log, step: p.step };
}

/** Parameters in an order where every condition's parameter comes before what it conditions. */
function ordered(params: Record<string, ParamSpace>, where: string): [string, ParamSpace][] {
  const out: [string, ParamSpace][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new SearchSpaceError(`${where}: field "params.${name}.when": conditions form a cycle`);
    state.set(name, 'visiting');
    // A condition on a pinned (fixed) parameter is checked against its value, not ordered.
    for (const dep of Object.keys(params[name].when ?? {})) if (dep in params) visit(dep);
    state.set(name, 'done');
    out.push([name, params[name]]);
  };
  for (const name of Object.keys(params)) visit(name);
  return out;
}

/**
 * A search-space file turned into what the driver needs: directions, a define-by-run suggest
 * function honouring conditions, the plugin and parameters of a trial, and a signature that tells
 * whether a stored study was made with the same space.
 */
export class CompiledSpace {
  readonly directions: StudyDirection[];
  readonly objectiveMetrics: string[];
  readonly intermediateMetric: string;
  /** lines for the user about how the space was read (eval/* metrics read as val/*) */
  readonly notes: string[];
  readonly fixed: Record<string, unknown>;
  readonly params: Record<string, ParamSpace>;
  private readonly order: [string, ParamSpace][];

  constructor(
    readonly space: SearchSpaceFile,
    readonly where: string,
    opts: { set?: Record<string, unknown>; repoRoot?: string; dataDir?: string } = {},
  ) {
    this.directions = space.objectives.map((o) => (o.direction === 'maximize' ? StudyDirection.MAXIMIZE : StudyDirection.MINIMIZE));
    this.objectiveMetrics = space.objectives.map((o) => currentMetricName(o.metric));
    this.intermediateMetric = currentMetricName(space.intermediateMetric ?? space.objectives[0].metric);
    const named = [...space.objectives.map((o) => o.metric), space.intermediateMetric ?? ''];
    this.notes = [legacyMetricNote(where, named), testSelectionNote(where, named)].filter((n): n is string => n !== null);
    let protocol: Record<string, unknown> = {};
    if (space.protocol) {
      const file = path.resolve(opts.repoRoot ?? process.cwd(), space.protocol);
      if (!fs.existsSync(file)) throw new SearchSpaceError(`${where}: field "protocol": file ${file} does not exist`);
      try {
        protocol = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new SearchSpaceError(`${where}: field "protocol": ${file} is not valid JSON (${(e as Error).message})`);
      }
      if (typeof protocol !== 'object' || protocol === null || Array.isArray(protocol)) throw new SearchSpaceError(`${where}: field "protocol": ${file} must hold a JSON object of parameters`);
    }
    const params = { ...space.params };
    const fixed: Record<string, unknown> = { ...protocol, ...space.fixed };
    // `--set k=v` pins a parameter: a searched one leaves the search.
    for (const [k, v] of Object.entries(opts.set ?? {})) {
      delete params[k];
      fixed[k] = v;
    }
    if (space.data?.param && opts.dataDir) fixed[space.data.param] = opts.dataDir;
    this.fixed = fixed;
    this.params = params;
    this.order = ordered(params, where);
  }

  /** Conditions of `p` hold for the values drawn so far. */
  private active(p: ParamSpace, values: Record<string, unknown>): boolean {
    for (const [dep, allowed] of Object.entries(p.when ?? {})) {
      const v = dep in values ? values[dep] : this.fixed[dep];
      if (!allowed.some((a) => a === v)) return false;
    }
    return true;
  }

  async suggest(trial: Suggester): Promise<Record<string, ParamValue>> {
    const values: Record<string, ParamValue> = {};
    for (const [name, p] of this.order) {
      if (!this.active(p, values)) continue;
      if (p.type === 'categorical') values[name] = await trial.suggestCategorical(name, p.choices);
      else if (p.type === 'int') values[name] = await trial.suggestInt(name, p.low, p.high, { log: p.log, step: p.step });
      else values[name] = await trial.suggestFloat(name, p.low, p.high, { log: p.log, step: p.step });
    }
    return values;
  }

  /** The plugin and full parameter set for sampled values. */
  plan(sampled: Record<string, unknown>): TrialPlan {
    const all: Record<string, unknown> = { ...this.fixed, ...sampled };
    const pc = this.space.plugin;
    if (typeof pc === 'string') return { plugin: pc, params: all };
    const key = String(all[pc.param]);
    const target = pc.map[key];
    if (!target) throw new SearchSpaceError(`${this.where}: field "plugin.map": no plugin for ${pc.param}=${key}`);
    const { [pc.param]: _selector, ...rest } = all;
    return { plugin: target.plugin, params: { ...target.fixed, ...rest } };
  }

  /** Identity of the experiment: what is searched, what is fixed, what is optimised, by which plugin. */
  signature(): { hash: string; canonical: string } {
    const sortKeys = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])])) : v;
    const canonical = JSON.stringify(sortKeys({ plugin: this.space.plugin, fixed: this.fixed, params: this.params, objectives: this.space.objectives }));
    return { hash: crypto.createHash('sha256').update(canonical).digest('hex').slice(0, 16), canonical };
  }
}

/** Throws one line naming the missing data files, when the space declares any. */
export function checkData(space: SearchSpaceFile, dataDir?: string): void {
  const d = space.data;
  if (!d || d.expects.length === 0) return;
  const dir = path.resolve(dataDir ?? d.dir ?? '.');
  // "a|b": either file will do (e.g. JSON or text annotations).
  const missing = d.expects.filter((f) => !f.split('|').some((alt) => fs.existsSync(path.join(dir, alt))));
  if (missing.length) {
    const show = (fs_: string[]) => fs_.map((f) => f.split('|').join(' or ')).join(', ');
    const where = dataDir === undefined && d.dir === undefined ? 'no --data-dir given' : `data not found in ${dir}`;
    throw new SearchSpaceError(`${space.name}: ${where}: expected ${show(d.expects)} (missing ${show(missing)}); pass --data-dir DIR${d.hint ? `. ${d.hint}` : ''}`);
  }
}
