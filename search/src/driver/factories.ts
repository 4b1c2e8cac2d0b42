import * as path from 'node:path';
import { ConsoleTrackingBackend, JsonlTrackingBackend, type TrackingBackend } from '@iccl/trainer-api';
import type { Pruner } from '../pruners/base';
import type { Sampler } from '../samplers/base';
import type { Storage } from '../storages/base';
import { JournalStorage } from '../storages/journal';
import { InMemoryStorage } from '../storages/memory';
import { PostgresStorage } from '../storages/postgres';

/** `journal:PATH` (default `journal:runs/studies.journal`), `postgresql://...`, or `memory`. */
export function openStorage(spec: string): Storage {
  if (spec === 'memory') return new InMemoryStorage();
  if (spec.startsWith('postgresql://') || spec.startsWith('postgres://')) return new PostgresStorage(spec);
  if (spec.startsWith('journal:')) return new JournalStorage(spec.slice('journal:'.length));
  if (spec.endsWith('.journal') || spec.endsWith('.log')) return new JournalStorage(spec);
  throw new Error(`--storage: got "${spec}", expected journal:PATH, postgresql://USER@HOST:PORT/DB or memory`);
}

type Ctor<T> = new (...args: never[]) => T;

/**
 * Samplers and pruners by name, looked up among the search package's exports at call time, so
 * that each one the core ships is available here without this file naming every class.
 */
const SAMPLERS: Record<string, string> = {
  random: 'RandomSampler',
  tpe: 'TPESampler',
  grid: 'GridSampler',
  sobol: 'QMCSampler',
  qmc: 'QMCSampler',
  nsga2: 'NSGAIISampler',
  motpe: 'TPESampler',
};
const PRUNERS: Record<string, string> = {
  nop: 'NopPruner',
  none: 'NopPruner',
  median: 'MedianPruner',
  percentile: 'PercentilePruner',
  sha: 'SuccessiveHalvingPruner',
  hyperband: 'HyperbandPruner',
};

function lookup<T>(kind: string, table: Record<string, string>, name: string): Ctor<T> {
  const cls = table[name];
  if (!cls) throw new Error(`--${kind}: got "${name}", expected one of ${Object.keys(table).join(', ')}`);
  const core = require('../index') as Record<string, unknown>;
  const C = core[cls];
  if (typeof C !== 'function') throw new Error(`--${kind}: "${name}" (${cls}) is not available in this build of @iccl/search`);
  return C as Ctor<T>;
}

export function makeSampler(name: string, seed: number | undefined, options: Record<string, unknown>): Sampler {
  const C = lookup<Sampler>('sampler', SAMPLERS, name);
  if (name === 'random') return new (C as unknown as new (seed?: number) => Sampler)(seed);
  return new (C as unknown as new (o: Record<string, unknown>) => Sampler)({ seed, ...options });
}

export function makePruner(name: string, options: Record<string, unknown>): Pruner {
  const C = lookup<Pruner>('pruner', PRUNERS, name);
  return new (C as unknown as new (o: Record<string, unknown>) => Pruner)(options);
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
    const tb = require('@iccl/tensorboard') as typeof import('@iccl/tensorboard');
    return new tb.TensorBoardTrackingBackend({ dir: spec.slice('tensorboard:'.length), experimentName: opts.experimentName });
  }
  if (spec === 'mlflow' || spec.startsWith('mlflow:')) {
    const m = require('@iccl/mlflow') as typeof import('@iccl/mlflow');
    // each trial run logs system/* metrics while it runs (MLflow's names: the UI's system-metrics tab)
    return m.withSystemMetrics(await m.createMlflowBackend({ trackingUri: spec.startsWith('mlflow:') ? spec.slice(7) : undefined, experimentName: opts.experimentName, dir: opts.dir }));
  }
  throw new Error(`--tracking: got "${spec}", expected mlflow[:URI], tensorboard:DIR, jsonl:DIR, console or none`);
}
