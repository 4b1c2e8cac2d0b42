/** The real trainer plugins behind the harness (bench/methods/cli.ts, the golden trace). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backendTags } from '@iccl/tf-backend';
import { consoleLogger, JsonlTracker, validateParams, type StepRecord, type TrainerPlugin } from '@iccl/trainer-api';
import { plugins } from '../../plugins/baselines/src';
import { plugin as iccl } from '../../plugins/iccl/src';
import type { UnitTrainer } from './harness';

const PLUGINS: Record<string, TrainerPlugin> = {
  ce: plugins.ce as TrainerPlugin,
  crt: plugins.crt as TrainerPlugin,
  mixup: plugins.mixup as TrainerPlugin,
  iccl: iccl as TrainerPlugin,
};

export function pluginOf(name: string): TrainerPlugin {
  const p = PLUGINS[name];
  if (!p) throw new Error(`plugin "${name}": expected one of ${Object.keys(PLUGINS).join(', ')}`);
  return p;
}

export const ROOT = path.resolve(__dirname, '../..');

function packageVersion(dir: string): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as { version: string }).version;
}

export const realTrainer: UnitTrainer = {
  params: (plugin, raw) => validateParams(pluginOf(plugin).params, raw) as Record<string, string | number | boolean>,
  train: (plugin, params, ctx) => pluginOf(plugin).train(params, ctx),
  context: (unit, workDir, metricsFile, signal, onStep?: (s: StepRecord) => void) => ({
    trialId: unit,
    workDir,
    signal,
    report: async () => {},
    tracker: new JsonlTracker(metricsFile, unit),
    log: consoleLogger(unit),
    onStep,
  }),
  versions: (plugin) => ({
    node: process.version,
    [`plugin.${plugin}`]: pluginOf(plugin).version,
    '@iccl/longtail': packageVersion('plugins/longtail'),
    '@iccl/tf-backend': packageVersion('plugins/tf-backend'),
    ...backendTags(),
  }),
};
