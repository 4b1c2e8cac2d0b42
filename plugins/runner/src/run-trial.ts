import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  consoleLogger,
  validateParams,
  type Logger,
  type ParamValue,
  type TrainerPlugin,
  type TrialResult,
  type Tracker,
} from '@iccl/trainer-api';

export interface RunTrialOptions {
  tracker: Tracker;
  workDir: string;
  trialId?: string;
  signal?: AbortSignal;
  log?: Logger;
}

/**
 * Runs one trial of `plugin` outside any search: validates the parameters, logs them, reports
 * intermediate values to the tracker only (nothing prunes here) and ends the run with its status.
 */
export async function runTrial(plugin: TrainerPlugin, rawParams: Record<string, unknown>, opts: RunTrialOptions): Promise<TrialResult> {
  const params = validateParams(plugin.params, rawParams);
  fs.mkdirSync(opts.workDir, { recursive: true });
  const log = opts.log ?? consoleLogger(opts.trialId ?? plugin.name);
  opts.tracker.setTags({ 'trainer.plugin': plugin.name, 'trainer.version': plugin.version });
  opts.tracker.logParams(params as Record<string, ParamValue>);
  try {
    const result = await plugin.train(params, {
      trialId: opts.trialId ?? 'standalone',
      workDir: path.resolve(opts.workDir),
      signal: opts.signal ?? new AbortController().signal,
      tracker: opts.tracker,
      log,
      report: async () => {},
    });
    opts.tracker.logMetrics(result.metrics);
    await opts.tracker.end('FINISHED');
    return result;
  } catch (e) {
    const aborted = opts.signal?.aborted === true;
    await opts.tracker.end(aborted ? 'KILLED' : 'FAILED', (e as Error).message);
    throw e;
  }
}
