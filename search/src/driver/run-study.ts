import { fork, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Tracker, TrackingBackend } from '@iccl/trainer-api';
import type { Pruner } from '../pruners/base';
import { NopPruner } from '../pruners/nop';
import type { Sampler } from '../samplers/base';
import type { CompiledSpace } from '../spaces/compile';
import { StaleTrialError, StudyNotFoundError, type Storage } from '../storages/base';
import { createStudy, loadStudy } from '../study/create';
import type { Study } from '../study/study';
import { FIXED_PARAMS_ATTR } from '../study/trial';
import { isFinished, TrialState, type FrozenTrial } from '../study/trial-types';
import type { FromChild, ToChild } from './messages';

/** System attributes the driver writes on trials (visible in Optuna and optuna-dashboard too). */
export const ATTR = {
  failReason: 'fail_reason',
  trackingRunId: 'tracking_run_id',
  retriedFrom: 'retried_from',
  retryCount: 'retry_count',
  workDir: 'work_dir',
  host: 'driver_host',
  pid: 'driver_pid',
  driverId: 'driver_id',
  spaceHash: 'search_space_hash',
  space: 'search_space',
} as const;

export type TrialEvent =
  | { kind: 'started'; number: number; params: Record<string, unknown> }
  | { kind: 'finished'; trial: FrozenTrial }
  | { kind: 'reaped'; number: number; reason: string }
  /** Trials the study already had finished (counted against the budget) when this run began. */
  | { kind: 'resumed'; done: number }
  | { kind: 'info'; message: string };

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
}

export interface RunStudyResult {
  study: Study;
  interrupted: boolean;
}

const CHILD = path.join(__dirname, 'trial-child.ts');

/**
 * The best trial on the study's run: tags (params are immutable in MLflow, and the best changes as a
 * resumed study goes on) and a `best/value` metric stepped by the number of complete trials.
 */
async function logStudySummary(study: Study, run: Tracker): Promise<void> {
  const complete = await study.getTrials({ states: [TrialState.COMPLETE] });
  const tags: Record<string, string> = {
    'iccl.trials.complete': String(complete.length),
    'iccl.trials.total': String((await study.getTrials()).length),
  };
  if (complete.length > 0 && study.directions.length === 1) {
    const best = await study.bestTrial();
    tags['best.trial'] = String(best.number);
    tags['best.value'] = String(best.values![0]);
    for (const [k, v] of Object.entries(best.params)) tags[`best.param.${k}`] = String(v);
    run.logMetrics({ 'best/value': best.values![0]! }, complete.length);
  } else if (complete.length > 0) {
    tags['best.pareto_trials'] = (await study.bestTrials()).map((t) => t.number).join(',');
  }
  run.setTags(tags);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The loader that lets a forked process run TypeScript (tsx), as an absolute URL. */
function tsxExecArgv(): string[] {
  const loader = require.resolve('tsx', { paths: [process.cwd(), __dirname] });
  return ['--import', `file://${loader}`];
}

/** Creates the study, or loads it when it exists with the same search space. */
export async function openStudy(o: Pick<RunStudyOptions, 'studyName' | 'space' | 'storage' | 'sampler' | 'pruner'>, where = 'the search-space file'): Promise<Study> {
  const sig = o.space.signature();
  let study: Study;
  try {
    const id = await o.storage.getStudyIdFromName(o.studyName);
    const attrs = await o.storage.getStudySystemAttrs(id);
    if (attrs[ATTR.spaceHash] !== undefined && attrs[ATTR.spaceHash] !== sig.hash) {
      throw new Error(
        `study "${o.studyName}" already exists in this storage with another search space (stored ${String(attrs[ATTR.spaceHash])}, ${where} gives ${sig.hash}): ` +
          `pass --study NEW_NAME to start a new study, or restore the space it was made with to resume it`,
      );
    }
    study = await loadStudy({ storage: o.storage, studyName: o.studyName, sampler: o.sampler, pruner: o.pruner });
    const dirs = study.directions;
    if (dirs.length !== o.space.directions.length || dirs.some((d, i) => d !== o.space.directions[i])) {
      throw new Error(`study "${o.studyName}" exists with other objective directions: pass --study NEW_NAME`);
    }
  } catch (e) {
    if (!(e instanceof StudyNotFoundError)) throw e;
    study = await createStudy({ storage: o.storage, studyName: o.studyName, directions: o.space.directions, sampler: o.sampler, pruner: o.pruner, loadIfExists: true });
    await o.storage.setStudySystemAttr(study.studyId, ATTR.spaceHash, sig.hash);
    await o.storage.setStudySystemAttr(study.studyId, ATTR.space, JSON.parse(sig.canonical));
    await o.storage.setStudyUserAttr(study.studyId, 'objectives', o.space.objectiveMetrics);
  }
  return study;
}

/** Trials the budget counts: all of them, minus failed ones that a retry replaces. */
function planned(trials: FrozenTrial[]): number {
  return trials.length - trials.filter((t) => t.systemAttrs[ATTR.retriedFrom] !== undefined).length;
}

/**
 * Runs a study's trials in child processes, `workers` at a time, with the parent as the only
 * process that talks to storage and tracking. Safe to run in several processes (or on several
 * hosts with PostgreSQL) on the same study: trials are claimed atomically by the storage, dead
 * workers are detected by heartbeat (or by pid on the same host) and their trials retried.
 */
export async function runStudy(o: RunStudyOptions): Promise<RunStudyResult> {
  const driverId = crypto.randomUUID();
  const host = os.hostname();
  const retries = o.retries ?? 1;
  const hb = o.heartbeatSeconds ?? 15;
  const grace = o.abortGraceMs ?? 10_000;
  const startupS = o.startupSeconds ?? 300;
  const emit = o.onEvent ?? (() => {});
  const space = o.space;
  const pruner = space.directions.length > 1 ? new NopPruner() : o.pruner;
  const study = await openStudy({ ...o, pruner });
  const storage = o.storage;
  const runsDir = path.resolve(o.runsDir ?? path.join('runs', o.studyName));
  const tracking = o.tracking ?? null;
  const started = Date.now();
  const running = new Map<number, { child: ChildProcess | null; abort: (why: string, kind: 'interrupt' | 'timeout') => void }>();
  let stopping = false;

  let studyRun: Tracker | null = null;
  if (tracking) {
    const sattrs = await storage.getStudySystemAttrs(study.studyId);
    const prev = sattrs[ATTR.trackingRunId] as string | undefined;
    studyRun = await tracking.startRun({ name: o.studyName, resumeRunId: prev, tags: { 'iccl.study': o.studyName, 'iccl.space': space.space.name } });
    if (!prev) await storage.setStudySystemAttr(study.studyId, ATTR.trackingRunId, studyRun.runId);
    if (o.studyRunParams) studyRun.logParams(o.studyRunParams);
    // The effective search space (configuration and --set applied), so the run says what was searched.
    fs.mkdirSync(runsDir, { recursive: true });
    const spaceFile = path.join(runsDir, 'search-space.json');
    fs.writeFileSync(spaceFile, JSON.stringify(space.space, null, 2) + '\n');
    await studyRun.logArtifact(spaceFile);
  }

  /** Fails a trial that no one is running any more and queues its retry, once, whoever wins. */
  const reap = async (t: FrozenTrial, reason: string, countsAsRetry: boolean): Promise<void> => {
    try {
      await storage.setTrialSystemAttr(t.trialId, ATTR.failReason, reason);
      const ok = await storage.setTrialStateValues(t.trialId, TrialState.FAIL, null);
      if (!ok) return;
    } catch (e) {
      if (e instanceof StaleTrialError) return; // someone else finished or reaped it first
      throw e;
    }
    emit({ kind: 'reaped', number: t.number, reason });
    const count = Number(t.systemAttrs[ATTR.retryCount] ?? 0) + (countsAsRetry ? 1 : 0);
    if (countsAsRetry && count > retries) return;
    await storage.createNewTrial(study.studyId, {
      state: TrialState.WAITING,
      systemAttrs: {
        [FIXED_PARAMS_ATTR]: { ...t.params },
        [ATTR.retriedFrom]: t.number,
        [ATTR.retryCount]: count,
        ...(t.systemAttrs[ATTR.workDir] ? { [ATTR.workDir]: t.systemAttrs[ATTR.workDir] } : {}),
        ...(t.systemAttrs[ATTR.trackingRunId] ? { [ATTR.trackingRunId]: t.systemAttrs[ATTR.trackingRunId] } : {}),
      },
    });
  };

  /** RUNNING trials of dead drivers: same host and dead pid at once, others by heartbeat. */
  const reapDead = async (): Promise<void> => {
    const runningTrials = await storage.getAllTrials(study.studyId, [TrialState.RUNNING]);
    const stale = new Set(storage.getStaleTrialIds ? await storage.getStaleTrialIds(study.studyId, hb * 4) : []);
    for (const t of runningTrials) {
      if (running.has(t.trialId) || t.systemAttrs[ATTR.driverId] === driverId) continue;
      const sameHost = t.systemAttrs[ATTR.host] === host;
      const pid = Number(t.systemAttrs[ATTR.pid]);
      if (sameHost && pid && !pidAlive(pid)) await reap(t, `worker lost: driver process ${pid} on ${host} is gone`, true);
      else if (stale.has(t.trialId)) await reap(t, `worker lost: no heartbeat for over ${hb * 4}s`, true);
    }
  };

  const beat = setInterval(() => {
    void (async () => {
      try {
        for (const id of running.keys()) await storage.recordHeartbeat?.(id);
        await reapDead();
      } catch (e) {
        emit({ kind: 'info', message: `heartbeat: ${(e as Error).message}` });
      }
    })();
  }, hb * 1000);
  beat.unref();

  const onStop = () => {
    if (stopping) {
      for (const r of running.values()) r.child?.kill('SIGKILL');
      return;
    }
    stopping = true;
    emit({ kind: 'info', message: `stopping: ${running.size} running trial(s) are asked to stop; they will be retried on the next run` });
    for (const r of running.values()) r.abort('interrupted by the user', 'interrupt');
  };
  o.stopSignal?.addEventListener('abort', onStop);
  if (o.stopSignal?.aborted) stopping = true;

  // Launching (check budget, then ask) is serialised in this process so two slots never both take the last trial.
  let launchLock: Promise<unknown> = Promise.resolve();
  const launch = (): Promise<FrozenTrial | null> => {
    const p = launchLock.then(async () => {
      if (stopping) return null;
      if (o.studyTimeout !== null && o.studyTimeout !== undefined && (Date.now() - started) / 1000 >= o.studyTimeout) return null;
      const all = await storage.getAllTrials(study.studyId);
      const hasWaiting = all.some((t) => t.state === TrialState.WAITING);
      if (!hasWaiting && planned(all) >= o.nTrials) return null;
      const trial = await study.ask();
      const frozen0 = await storage.getTrial(trial.trialId);
      const sampled = await space.suggest(trial);
      await storage.setTrialSystemAttr(trial.trialId, ATTR.host, host);
      await storage.setTrialSystemAttr(trial.trialId, ATTR.pid, process.pid);
      await storage.setTrialSystemAttr(trial.trialId, ATTR.driverId, driverId);
      await storage.recordHeartbeat?.(trial.trialId);
      const workDir = (frozen0.systemAttrs[ATTR.workDir] as string | undefined) ?? path.join(runsDir, `trial-${trial.number}`);
      if (!frozen0.systemAttrs[ATTR.workDir]) await storage.setTrialSystemAttr(trial.trialId, ATTR.workDir, workDir);
      const frozen = await storage.getTrial(trial.trialId);
      return { ...frozen, params: { ...frozen.params, ...sampled } };
    });
    launchLock = p.catch(() => undefined);
    return p;
  };

  const runTrial = async (t: FrozenTrial): Promise<void> => {
    const plan = space.plan(t.params);
    fs.mkdirSync(String(t.systemAttrs[ATTR.workDir]), { recursive: true });
    emit({ kind: 'started', number: t.number, params: plan.params });
    let tracker: Tracker | null = null;
    if (tracking) {
      const prev = t.systemAttrs[ATTR.trackingRunId] as string | undefined;
      tracker = await tracking.startRun({
        name: `${o.studyName}#${t.number}`,
        parentRunId: studyRun?.runId,
        resumeRunId: prev,
        tags: { 'iccl.study': o.studyName, 'iccl.trial': String(t.number), 'iccl.plugin': plan.plugin },
      });
      if (!prev) await storage.setTrialSystemAttr(t.trialId, ATTR.trackingRunId, tracker.runId);
      const flat: Record<string, string | number | boolean> = {};
      for (const [k, v] of Object.entries(plan.params)) flat[k] = typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : JSON.stringify(v);
      tracker.logParams(flat);
    }

    // Metrics of the latest report: a trainer may name its final metrics differently from its
    // reports (e.g. `top1` vs `eval/top1`); objectives are looked up in the result first, then here.
    let lastReported: Record<string, number> = {};
    type Outcome = { kind: 'done' | 'pruned' | 'failed' | 'crashed' | 'timeout' | 'interrupted'; msg?: FromChild; reason?: string };
    const outcome = await new Promise<Outcome>((resolve) => {
      let settled = false;
      let abortKind: 'interrupt' | 'timeout' | null = null;
      let abortReason = '';
      const finish = (x: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(killer);
        resolve(x);
      };
      let killer: NodeJS.Timeout | undefined;
      const child = fork(CHILD, [], { execArgv: tsxExecArgv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ICCL_DEVICE: o.device ?? 'auto' } });
      const abort = (why: string, kind: 'interrupt' | 'timeout') => {
        if (abortKind) return;
        abortKind = kind;
        abortReason = why;
        if (child.connected) child.send({ type: 'abort', reason: why } satisfies ToChild);
        killer = setTimeout(() => child.kill('SIGKILL'), grace);
      };
      running.set(t.trialId, { child, abort });
      // Start-up (tsx, loading the plugin and TensorFlow) has its own limit; the trial's starts with training.
      let timer: NodeJS.Timeout | undefined = setTimeout(() => abort(`trial process did not start within ${startupS}s`, 'timeout'), startupS * 1000);
      const trackQueue: Promise<void>[] = [];
      lastReported = {};
      child.on('message', (m: FromChild) => {
        if (m.type === 'started') {
          clearTimeout(timer);
          timer = o.trialTimeout ? setTimeout(() => abort(`trial time limit of ${o.trialTimeout}s exceeded`, 'timeout'), o.trialTimeout * 1000) : undefined;
        } else if (m.type === 'report') {
          lastReported = { ...lastReported, ...m.metrics };
          void (async () => {
            let prune = false;
            let error: string | undefined;
            try {
              const v = m.metrics[space.intermediateMetric];
              if (typeof v === 'number') {
                await storage.setTrialIntermediateValue(t.trialId, m.step, v);
                if (!abortKind) prune = await pruner.prune(study, await storage.getTrial(t.trialId));
              }
            } catch (e) {
              error = `driver could not record the report: ${(e as Error).message}`;
            }
            if (abortKind) error = abortReason;
            if (child.connected) child.send({ type: 'reportAck', seq: m.seq, prune, error } satisfies ToChild);
          })();
        } else if (m.type === 'track') {
          if (!tracker) return;
          if (m.call === 'logParams') tracker.logParams(m.params);
          else if (m.call === 'logMetrics') tracker.logMetrics(m.metrics, m.step, m.timestamp);
          else if (m.call === 'setTags') tracker.setTags(m.tags);
          else if (m.call === 'logInput') tracker.logInput(m.dataset);
          else trackQueue.push(tracker.logArtifact(m.localPath, m.artifactPath).catch(() => undefined));
        } else if (m.type === 'failed' && abortKind) {
          finish({ kind: abortKind === 'timeout' ? 'timeout' : 'interrupted', reason: abortReason });
        } else if (m.type === 'done' || m.type === 'pruned' || m.type === 'failed') {
          finish({ kind: m.type, msg: m });
        }
      });
      child.on('exit', (code, signal) => {
        void Promise.all(trackQueue).then(() => {
          if (abortKind) finish({ kind: abortKind === 'timeout' ? 'timeout' : 'interrupted', reason: abortReason });
          finish({ kind: 'crashed', reason: `trial process exited (${signal ? `signal ${signal}` : `code ${code}`}) without a result` });
        });
      });
      child.on('error', (e) => finish({ kind: 'crashed', reason: `trial process: ${e.message}` }));
      child.send({ type: 'start', trialId: t.trialId, number: t.number, studyName: o.studyName, plugin: plan.plugin, params: plan.params, workDir: String(t.systemAttrs[ATTR.workDir]), device: o.device ?? 'auto' } satisfies ToChild);
    });
    running.delete(t.trialId);

    let status: 'FINISHED' | 'FAILED' | 'KILLED' = 'FAILED';
    let reason: string | undefined;
    try {
      if (outcome.kind === 'done' && outcome.msg?.type === 'done') {
        const m = outcome.msg;
        const metrics = { ...lastReported, ...m.metrics };
        await storage.setTrialUserAttr(t.trialId, 'metrics', metrics);
        const values = space.objectiveMetrics.map((name, i) => (name in metrics ? metrics[name] : i === 0 && space.objectiveMetrics.length === 1 ? m.objective : undefined));
        const missing = space.objectiveMetrics.filter((_n, i) => values[i] === undefined);
        if (missing.length) {
          reason = `the trainer's result has no metric ${missing.join(', ')} (it has: ${Object.keys(metrics).join(', ') || 'none'})`;
          await storage.setTrialSystemAttr(t.trialId, ATTR.failReason, reason);
          await study.tell(t.number, { state: TrialState.FAIL });
        } else {
          const frozen = await study.tell(t.number, values as number[]);
          if (frozen.state === TrialState.COMPLETE) status = 'FINISHED';
          else reason = String(frozen.systemAttrs[ATTR.failReason] ?? 'failed');
        }
      } else if (outcome.kind === 'pruned') {
        await study.tell(t.number, { state: TrialState.PRUNED });
        status = 'KILLED';
        reason = 'pruned';
      } else if (outcome.kind === 'failed' && outcome.msg?.type === 'failed') {
        reason = outcome.msg.reason;
        await storage.setTrialSystemAttr(t.trialId, ATTR.failReason, reason);
        await study.tell(t.number, { state: TrialState.FAIL });
      } else if (outcome.kind === 'timeout') {
        reason = outcome.reason;
        await storage.setTrialSystemAttr(t.trialId, ATTR.failReason, reason);
        await study.tell(t.number, { state: TrialState.FAIL });
      } else {
        // Crashed or interrupted: the trial itself may be fine; run it again (interrupts are free).
        reason = outcome.reason;
        status = outcome.kind === 'interrupted' ? 'KILLED' : 'FAILED';
        await reap(await storage.getTrial(t.trialId), reason ?? 'lost', outcome.kind === 'crashed');
      }
    } catch (e) {
      if (!(e instanceof StaleTrialError) && !/already (COMPLETE|PRUNED|FAIL)/.test((e as Error).message)) throw e;
      emit({ kind: 'info', message: `trial ${t.number} was finished elsewhere (its worker was taken as dead): ${(e as Error).message}` });
    }
    if (tracker) await tracker.end(status, reason);
    const final = await storage.getTrial(t.trialId);
    if (isFinished(final.state)) emit({ kind: 'finished', trial: final });
  };

  const slot = async (): Promise<void> => {
    for (;;) {
      const t = await launch();
      if (!t) return;
      await runTrial(t);
    }
  };

  try {
    await reapDead();
    const before = await storage.getAllTrials(study.studyId);
    const replaced = new Set(before.map((t) => t.systemAttrs[ATTR.retriedFrom]).filter((n) => n !== undefined));
    const done = before.filter((t) => isFinished(t.state) && !replaced.has(t.number)).length;
    if (done > 0) emit({ kind: 'resumed', done });
    await Promise.all(Array.from({ length: o.workers }, slot));
  } finally {
    clearInterval(beat);
    o.stopSignal?.removeEventListener('abort', onStop);
    if (studyRun) await logStudySummary(study, studyRun);
    await o.onStudyEnd?.(study, studyRun);
    if (studyRun) await studyRun.end(stopping ? 'KILLED' : 'FINISHED');
  }
  return { study, interrupted: stopping };
}
