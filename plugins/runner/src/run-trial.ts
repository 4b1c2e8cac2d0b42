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
 * One trial of `plugin`, the part every caller shares (the runner's CLI and the search driver's trial
 * process): validates the parameters, tags the run with the trainer and logs the parameters to it
 * (the one place a trial's parameters are logged), then trains. Ending the run is the caller's.
 */
export async function trainTrial(plugin: TrainerPlugin, rawParams: Record<string, unknown>, opts: RunTrialOptions): Promise<TrialResult> {
  const params = validateParams(plugin.params, rawParams);
  fs.mkdirSync(opts.workDir, { recursive: true });
  const log = opts.log ?? consoleLogger(opts.trialId ?? plugin.name);
  opts.tracker.setTags({ 'trainer.plugin': plugin.name, 'trainer.version': plugin.version });
  opts.tracker.logParams(params as Record<string, ParamValue>);
  opts.onStart?.(params);
  return plugin.train(params, {
    trialId: opts.trialId ?? 'standalone',
    workDir: path.resolve(opts.workDir),
    signal: opts.signal ?? new AbortController().signal,
    tracker: opts.tracker,
    log,
    report: opts.report ?? (async () => {}),
  });
}

/**
 * Runs one trial of `plugin` outside any search: validates the parameters, logs them, reports
 * intermediate values to `report` (default: nowhere, nothing prunes) and ends the run with its status.
 */
export async function runTrial(plugin: TrainerPlugin, rawParams: Record<string, unknown>, opts: RunTrialOptions): Promise<TrialResult> {
  // bad parameters or an unusable work dir fail before the run counts as started (it is not ended)
  const params = validateParams(plugin.params, rawParams);
  fs.mkdirSync(opts.workDir, { recursive: true });
  try {
    const result = await trainTrial(plugin, params, opts);
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
