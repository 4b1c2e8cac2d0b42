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
  TrialPruned,
} from '@iccl/trainer-api';

export interface RunTrialOptions {
  tracker: Tracker;
  workDir: string;
  trialId?: string;
  signal?: AbortSignal;
  log?: Logger;
  /** Receives the intermediate values; may throw TrialPruned (default: nothing prunes). */
  report?: (step: number, metrics: Record<string, number>) => Promise<void>;
  /** Called with the validated parameters before training starts. */
  onStart?: (params: Record<string, unknown>) => void;
}

/**
 * Runs one trial of `plugin` outside any search: validates the parameters, logs them, reports
 * intermediate values to `report` (default: nowhere, nothing prunes) and ends the run with its status.
 */
export async function runTrial(plugin: TrainerPlugin, rawParams: Record<string, unknown>, opts: RunTrialOptions): Promise<TrialResult> {
  const params = validateParams(plugin.params, rawParams);
  fs.mkdirSync(opts.workDir, { recursive: true });
  const log = opts.log ?? consoleLogger(opts.trialId ?? plugin.name);
  opts.tracker.setTags({ 'trainer.plugin': plugin.name, 'trainer.version': plugin.version });
  opts.tracker.logParams(params as Record<string, ParamValue>);
  opts.onStart?.(params);
  try {
    const result = await plugin.train(params, {
      trialId: opts.trialId ?? 'standalone',
      workDir: path.resolve(opts.workDir),
      signal: opts.signal ?? new AbortController().signal,
      tracker: opts.tracker,
      log,
      report: opts.report ?? (async () => {}),
    });
    opts.tracker.logMetrics(result.metrics);
    await opts.tracker.end('FINISHED');
    return result;
  } catch (e) {
    const aborted = opts.signal?.aborted === true;
    // MLflow has no "pruned" status; its KILLED with the reason is what the driver records too.
    await opts.tracker.end(aborted || e instanceof TrialPruned ? 'KILLED' : 'FAILED', (e as Error).message);
    throw e;
  }
}
