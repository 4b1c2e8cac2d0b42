/**
 * The driver: runs a study's trials in child processes, `workers` at a time. Its parts, each the one
 * home of what it handles:
 *   launching.ts       budget, study time limit, claiming the next trial
 *   trial-process.ts   the forked trial process, its time limits, abort and kill
 *   trial-results.ts   reports and outcomes written to storage (pruning, tell, retry of lost trials)
 *   tracking-bridge.ts the study's and trials' tracking runs
 *   reaping.ts         heartbeats, and failing/retrying trials whose driver is gone
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Tracker, TrackingBackend } from '@iccl/trainer-api';
import type { Pruner } from '../pruners/base';
import { NopPruner } from '../pruners/nop';
import type { Sampler } from '../samplers/base';
import type { CompiledSpace } from '../spaces/compile';
import type { Storage } from '../storages/base';
import type { Study } from '../study/study';
import { isFinished, TrialState } from '../study/trial-types';
import type { TrialEvent } from './events';
import type { GpuPlan } from './gpu-slots';
import { DECODE_WORKERS_ENV, GpuTrials } from './gpu-trials';
import { alreadyDone, Launcher, type LaunchedTrial } from './launching';
import { openStudy } from './open-study';
import { Reaper, type DriverIdentity } from './reaping';
import { TrackingBridge } from './tracking-bridge';
import { startTrialProcess, type AbortKind } from './trial-process';
import { recordOutcome, recordReport, type TrialResultsContext } from './trial-results';

export { ATTR } from './attrs';
export type { TrialEvent } from './events';
export { openStudy } from './open-study';

export interface RunStudyOptions {
  studyName: string;
  space: CompiledSpace;
  storage: Storage;
  sampler: Sampler;
  pruner: Pruner;
  /** Trials the study should hold in the end (finished or running, retries not counted). */
  nTrials: number;
  workers: number;
  /** Seconds per trial (null: none). */
  trialTimeout?: number | null;
  /** Seconds: no trial starts after this (running ones finish); 0: none starts. null: no limit. */
  studyTimeout?: number | null;
  /** Retries of a trial lost to a crash, a kill or a dead worker. */
  retries?: number;
  /** Folder of trial work dirs (default runs/<study>). */
  runsDir?: string;
  device?: string;
  /** GPU slots (planGpuSlots): each trial process gets its own GPU from these; null: trials run on the CPU. */
  gpus?: GpuPlan | null;
  /** Image-decoding threads per trial when not on GPU slots (those bring their own share); unset: the trainer's default. */
  decodeWorkers?: number;
  tracking?: TrackingBackend | null;
  /** Seconds between heartbeats of running trials; a trial silent for 4x this is taken as dead. */
  heartbeatSeconds?: number;
  /** Seconds a trial process may take to load its plugin (default 300). */
  startupSeconds?: number;
  /** Ms a trial gets to stop after an abort before it is killed. */
  abortGraceMs?: number;
  onEvent?: (e: TrialEvent) => void;
  /** Logged on the study's tracking run when it starts (sampler and pruner settings, budget, ...). */
  studyRunParams?: Record<string, string | number | boolean>;
  /** Called before the study's tracking run ends, e.g. to write the report and attach it. */
  onStudyEnd?: (study: Study, studyRun: Tracker | null) => Promise<void>;
  /** Resolves when the caller wants to stop (Ctrl-C). */
  stopSignal?: AbortSignal;
  /**
   * With other drivers on the study (a Slurm array): when nothing is left to claim, stay while their
   * trials run, polling every this many seconds, to take over the retry of one that is lost. Unset: leave.
   */
  waitForOthersSeconds?: number;
}

export interface RunStudyResult {
  study: Study;
  interrupted: boolean;
}

/** A trial this driver runs now, and how to stop it. */
interface RunningTrial {
  kill(): void;
  abort(why: string, kind: AbortKind): void;
}

/**
 * Runs a study's trials in child processes, `workers` at a time, with the parent as the only
 * process that talks to storage and tracking. Safe to run in several processes (or on several
 * hosts with PostgreSQL) on the same study: trials are claimed atomically by the storage, dead
 * workers are detected by heartbeat (or by pid on the same host) and their trials retried.
 */
export async function runStudy(o: RunStudyOptions): Promise<RunStudyResult> {
  const me: DriverIdentity = { driverId: crypto.randomUUID(), host: os.hostname() };
  const emit = o.onEvent ?? (() => {});
  const space = o.space;
  const pruner = space.directions.length > 1 ? new NopPruner() : o.pruner;
  const study = await openStudy({ ...o, pruner });
  const storage = o.storage;
  const runsDir = path.resolve(o.runsDir ?? path.join('runs', o.studyName));
  const running = new Map<number, RunningTrial>();
  let stopping = false;
  const launcher = new Launcher({ storage, study, space, me, runsDir, nTrials: o.nTrials, studyTimeout: o.studyTimeout, stopping: () => stopping });
  const bridge = await TrackingBridge.open(o.tracking ?? null, storage, study, { studyName: o.studyName, space, runsDir, studyRunParams: o.studyRunParams });
  const reaper = new Reaper(storage, study, me, {
    retries: o.retries ?? 1,
    heartbeatSeconds: o.heartbeatSeconds ?? 15,
    emit,
    endLostRun: (t, reason) => bridge.endLostRun(t, reason),
  });
  const results: TrialResultsContext = { storage, study, space, pruner, reaper, emit };
  const stopHeartbeat = reaper.startHeartbeat(running);
  const gpus = o.gpus ? new GpuTrials(o.gpus) : null;

  const onStop = () => {
    if (stopping) {
      for (const r of running.values()) r.kill();
      return;
    }
    stopping = true;
    emit({ kind: 'info', message: `stopping: ${running.size} running trial(s) are asked to stop; they will be retried on the next run` });
    for (const r of running.values()) r.abort('interrupted by the user', 'interrupt');
  };
  o.stopSignal?.addEventListener('abort', onStop);
  if (o.stopSignal?.aborted) stopping = true;

  const runTrial = async ({ trial: t, plan, workDir }: LaunchedTrial): Promise<void> => {
    fs.mkdirSync(workDir, { recursive: true });
    emit({ kind: 'started', number: t.number, params: plan.params });
    const tracked = await bridge.startTrial(t, plan);
    const lease = gpus ? await gpus.lease(storage, t.trialId) : null;
    if (lease) tracked.forward({ call: 'setTags', tags: gpus!.tags(lease) });
    const proc = startTrialProcess({
      start: { trialId: t.trialId, number: t.number, studyName: o.studyName, plugin: plan.plugin, params: plan.params, workDir, device: o.device ?? 'auto' },
      env: {
        ...(o.decodeWorkers !== undefined ? { [DECODE_WORKERS_ENV]: String(o.decodeWorkers) } : {}),
        ...(lease ? gpus!.env(lease) : {}),
      },
      startupSeconds: o.startupSeconds ?? 300,
      trialTimeout: o.trialTimeout ?? null,
      abortGraceMs: o.abortGraceMs ?? 10_000,
      onReport: async (step, metrics, ask) => {
        await tracked.flushed();
        return recordReport(results, t, step, metrics, ask);
      },
      onTrack: (m) => tracked.forward(m),
      trackingSettled: () => tracked.settled(),
    });
    running.set(t.trialId, { kill: proc.kill, abort: proc.abort });
    let outcome = await proc.outcome;
    running.delete(t.trialId);
    if (lease) {
      await gpus!.releaseWhenGone(proc.child, lease, o.abortGraceMs ?? 10_000);
      outcome = await gpus!.noteCudaFailure(storage, t.trialId, outcome, await proc.stderrTail(), lease);
    }
    await bridge.recordRunId(t, tracked);
    const { status, reason } = await recordOutcome(results, t, outcome);
    await tracked.end(status, reason);
    const final = await storage.getTrial(t.trialId);
    if (isFinished(final.state)) emit({ kind: 'finished', trial: final });
  };

  const slot = async (): Promise<void> => {
    for (;;) {
      const t = await launcher.next();
      if (t) await runTrial(t);
      else if (!(await othersStillRunning())) return;
    }
  };
  // Lingering (waitForOthersSeconds): a dead driver's trial is reaped here and its retry claimed above.
  const othersStillRunning = async (): Promise<boolean> => {
    const wait = o.waitForOthersSeconds;
    if (!wait || !launcher.mayStart()) return false;
    await reaper.reapDead(running);
    const open = await storage.getAllTrials(study.studyId, [TrialState.RUNNING, TrialState.WAITING]);
    if (!open.some((t) => !running.has(t.trialId))) return false;
    await sleepUnlessStopped(wait * 1000, o.stopSignal);
    return true;
  };

  try {
    await reaper.reapDead(running);
    const done = alreadyDone(await storage.getAllTrials(study.studyId));
    if (done > 0) emit({ kind: 'resumed', done });
    await Promise.all(Array.from({ length: o.workers }, slot));
  } finally {
    stopHeartbeat();
    o.stopSignal?.removeEventListener('abort', onStop);
    await bridge.endStudy(study, stopping ? 'KILLED' : 'FINISHED', o.onStudyEnd);
  }
  return { study, interrupted: stopping };
}

function sleepUnlessStopped(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    }
    stop?.addEventListener('abort', done, { once: true });
  });
}
