/**
 * Launching and budget: whether another trial may start (stop, study time limit), and claiming it:
 * a waiting retry first, else a new trial if the budget allows, checked and created in one atomic
 * storage step (so several drivers on one study never exceed it), stamped with this driver.
 */
import * as path from 'node:path';
import type { CompiledSpace, TrialPlan } from '../spaces/compile';
import type { Storage } from '../storages/base';
import type { Study } from '../study/study';
import { isFinished, type FrozenTrial } from '../study/trial-types';
import { ATTR } from './attrs';
import type { DriverIdentity } from './reaping';

/** `JOBID_TASKID` of the Slurm array task this process runs in, `JOBID` of a plain job, null outside Slurm. */
export function slurmTaskName(env: NodeJS.ProcessEnv): string | null {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID) return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID ?? null;
}

/** Finished trials a resumed run starts with (failed ones a retry replaced not counted). */
export function alreadyDone(trials: FrozenTrial[]): number {
  const replaced = new Set(trials.map((t) => t.systemAttrs[ATTR.retriedFrom]).filter((n) => n !== undefined));
  return trials.filter((t) => isFinished(t.state) && !replaced.has(t.number)).length;
}

export interface LauncherOptions {
  storage: Storage;
  study: Study;
  space: CompiledSpace;
  me: DriverIdentity;
  runsDir: string;
  nTrials: number;
  /** Seconds: no trial starts after this; null/undefined: no limit. */
  studyTimeout?: number | null;
  /** True once the caller asked to stop. */
  stopping: () => boolean;
}

/** A claimed trial and everything its process needs: the plugin and its full parameters, the work dir. */
export interface LaunchedTrial {
  trial: FrozenTrial;
  plan: TrialPlan;
  workDir: string;
}

export class Launcher {
  private readonly started = Date.now();
  // Launching (check budget, then ask) is serialised in this process so two slots never both take the last trial.
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: LauncherOptions) {}

  /** The next trial to run, with its plan and work dir, or null when none may start. */
  next(): Promise<LaunchedTrial | null> {
    const p = this.lock.then(() => this.claim());
    this.lock = p.catch(() => undefined);
    return p;
  }

  /** False once stopping or past the study's time limit (the budget aside). */
  mayStart(): boolean {
    const { o } = this;
    if (o.stopping()) return false;
    return o.studyTimeout === null || o.studyTimeout === undefined || (Date.now() - this.started) / 1000 < o.studyTimeout;
  }

  private async claim(): Promise<LaunchedTrial | null> {
    const { storage, study, space, me } = this.o;
    if (!this.mayStart()) return null;
    // Retries (WAITING) run whatever the budget; new trials only while it lasts.
    const trial = await study.tryAsk(() => storage.createTrialWithinLimit(study.studyId, this.o.nTrials, ATTR.retriedFrom));
    if (!trial) return null;
    const frozen0 = await storage.getTrial(trial.trialId);
    const sampled = await space.suggest(trial);
    await storage.setTrialSystemAttr(trial.trialId, ATTR.host, me.host);
    await storage.setTrialSystemAttr(trial.trialId, ATTR.pid, process.pid);
    await storage.setTrialSystemAttr(trial.trialId, ATTR.driverId, me.driverId);
    const task = slurmTaskName(process.env);
    if (task) await storage.setTrialSystemAttr(trial.trialId, ATTR.slurmTask, task);
    await storage.recordHeartbeat?.(trial.trialId);
    const workDir = (frozen0.systemAttrs[ATTR.workDir] as string | undefined) ?? path.join(this.o.runsDir, `trial-${trial.number}`);
    if (!frozen0.systemAttrs[ATTR.workDir]) await storage.setTrialSystemAttr(trial.trialId, ATTR.workDir, workDir);
    const frozen = await storage.getTrial(trial.trialId);
    return { trial: frozen, plan: space.plan({ ...frozen.params, ...sampled }), workDir };
  }
}
