import * as path from 'node:path';
import { ConsoleTrackingBackend, JsonlTrackingBackend, type TrackingBackend } from '@iccl/trainer-api';
import type { Pruner } from '../pruners/base';
import { HyperbandPruner } from '../pruners/hyperband';
import { MedianPruner } from '../pruners/median';
import { NopPruner } from '../pruners/nop';
import { PercentilePruner } from '../pruners/percentile';
import { SuccessiveHalvingPruner } from '../pruners/successive-halving';
import type { Sampler } from '../samplers/base';
import type { ParamValue } from '../study/distributions';
import { GridSampler } from '../samplers/grid';
import { NSGAIISampler } from '../samplers/nsga2';
import { QMCSampler } from '../samplers/qmc';
import { RandomSampler } from '../samplers/random';
import { TPESampler } from '../samplers/tpe/sampler';
import type { Storage } from '../storages/base';
import { JournalStorage } from '../storages/journal';
import { InMemoryStorage } from '../storages/memory';
import { PostgresStorage } from '../storages/postgres';

/** Options as the command line or a search-space file give them (`tpe:seed=3,nStartupTrials=5`). */
export type FactoryOptions = Record<string, unknown>;

/** Storages by the form of their spec: the first whose `matches` accepts it opens it. */
const STORAGES: ReadonlyArray<{ matches: (spec: string) => boolean; open: (spec: string) => Storage }> = [
  { matches: (s) => s === 'memory', open: () => new InMemoryStorage() },
  { matches: (s) => s.startsWith('postgresql://') || s.startsWith('postgres://'), open: (s) => new PostgresStorage(s) },
  { matches: (s) => s.startsWith('journal:'), open: (s) => new JournalStorage(s.slice('journal:'.length)) },
  { matches: (s) => s.endsWith('.journal') || s.endsWith('.log'), open: (s) => new JournalStorage(s) },
];

/** `journal:PATH` (default `journal:runs/studies.journal`), `postgresql://...`, or `memory`. */
export function openStorage(spec: string): Storage {
  const kind = STORAGES.find((k) => k.matches(spec));
  if (!kind) throw new Error(`--storage: got "${spec}", expected journal:PATH, postgresql://USER@HOST:PORT/DB or memory`);
  return kind.open(spec);
}

const isParamValue = (v: unknown): v is ParamValue => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** The grid sampler's `searchSpace` option, `{name: [values]}` (a search-space file's sampler.options). */
function gridSpace(v: unknown): Record<string, ParamValue[]> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`--sampler grid: expected the option searchSpace {name: [values]}, got ${JSON.stringify(v)}`);
  const space: Record<string, ParamValue[]> = {};
  for (const [name, values] of Object.entries(v)) {
    if (!Array.isArray(values) || !values.every(isParamValue)) throw new Error(`--sampler grid: searchSpace.${name} must be a list of values, got ${JSON.stringify(values)}`);
    space[name] = values;
  }
  return space;
}

function percentileOption(v: unknown): number {
  if (typeof v !== 'number') throw new Error(`--pruner percentile: expected the option percentile=N (0 to 100), got ${JSON.stringify(v)}`);
  return v;
}

/** Samplers by name; every one but `random` takes its seed among its options. */
const SAMPLERS: Readonly<Record<string, (seed: number | undefined, options: FactoryOptions) => Sampler>> = {
  random: (seed) => new RandomSampler(seed),
  tpe: (seed, o) => new TPESampler({ seed, ...o }),
  motpe: (seed, o) => new TPESampler({ seed, ...o }),
  grid: (seed, o) => new GridSampler({ seed, ...o, searchSpace: gridSpace(o.searchSpace) }),
  sobol: (seed, o) => new QMCSampler({ seed, ...o }),
  qmc: (seed, o) => new QMCSampler({ seed, ...o }),
  nsga2: (seed, o) => new NSGAIISampler({ seed, ...o }),
};

const PRUNERS: Readonly<Record<string, (options: FactoryOptions) => Pruner>> = {
  nop: () => new NopPruner(),
  none: () => new NopPruner(),
  median: (o) => new MedianPruner(o),
  percentile: (o) => new PercentilePruner({ ...o, percentile: percentileOption(o.percentile) }),
  sha: (o) => new SuccessiveHalvingPruner(o),
  hyperband: (o) => new HyperbandPruner(o),
};

function lookup<F>(kind: string, table: Readonly<Record<string, F>>, name: string): F {
  if (!Object.prototype.hasOwnProperty.call(table, name)) throw new Error(`--${kind}: got "${name}", expected one of ${Object.keys(table).join(', ')}`);
  return table[name];
}

export function makeSampler(name: string, seed: number | undefined, options: FactoryOptions): Sampler {
  return lookup('sampler', SAMPLERS, name)(seed, options);
}

export function makePruner(name: string, options: FactoryOptions): Pruner {
  return lookup('pruner', PRUNERS, name)(options);
}

/**
 * `console`, `jsonl:DIR`, `none`, or `mlflow[:URI]` (@iccl/mlflow's backend: MLFLOW_TRACKING_URI or
 * URI, else a local server over sqlite in `dir`; loaded only when asked for). `custom` plugs in any
 * other TrackingBackend (the driver gives it one parent run per study, one child run per trial).
 */
export async function makeTracking(spec: string, custom?: TrackingBackend, opts: { experimentName?: string; dir?: string } = {}): Promise<TrackingBackend | null> {
  if (custom) return custom;
  if (spec === 'none') return null;
  if (spec === 'console') return new ConsoleTrackingBackend();
  if (spec.startsWith('jsonl:')) return new JsonlTrackingBackend(path.resolve(spec.slice(6)));
  if (spec.startsWith('tensorboard:')) {
    const tb = await import('@iccl/tensorboard');
    return new tb.TensorBoardTrackingBackend({ dir: spec.slice('tensorboard:'.length), experimentName: opts.experimentName });
  }
  if (spec === 'mlflow' || spec.startsWith('mlflow:')) {
    const m = await import('@iccl/mlflow');
    // each trial run logs system/* metrics while it runs (MLflow's names: the UI's system-metrics tab)
    return m.withSystemMetrics(await m.createMlflowBackend({ trackingUri: spec.startsWith('mlflow:') ? spec.slice(7) : undefined, experimentName: opts.experimentName, dir: opts.dir }));
  }
  throw new Error(`--tracking: got "${spec}", expected mlflow[:URI], tensorboard:DIR, jsonl:DIR, console or none`);
}
