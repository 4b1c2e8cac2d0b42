/**
 * Heartbeats and reaping: a driver beats for the trials it runs, and fails (then retries) RUNNING
 * trials whose driver is gone: at once when it ran on this host under a dead pid, else when its
 * heartbeat is older than four beats.
 */
import { StaleTrialError, type Storage } from '../storages/base';
import type { Study } from '../study/study';
import { FIXED_PARAMS_ATTR } from '../study/trial';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import { pidAlive } from '@iccl/trainer-api';
import { ATTR } from './attrs';
import type { Emit } from './events';

/** Who this driver is, as written on the trials it runs. */
export interface DriverIdentity {
  driverId: string;
  host: string;
}

export class Reaper {
  constructor(
    private readonly storage: Storage,
    private readonly study: Study,
    private readonly me: DriverIdentity,
    private readonly o: {
      retries: number;
      heartbeatSeconds: number;
      emit: Emit;
      /** Ends the tracking run of a dead driver's trial that gets no retry (a retry ends it when it starts). */
      endLostRun?: (t: FrozenTrial, reason: string) => Promise<void>;
    },
  ) {}

  /**
   * Fails a trial that no one is running any more and queues its retry, once, whoever wins.
   * Returns 'retried', 'final' (no retries left) or 'taken' (someone else finished or reaped it).
   */
  async reap(t: FrozenTrial, reason: string, countsAsRetry: boolean): Promise<'retried' | 'final' | 'taken'> {
    try {
      await this.storage.setTrialSystemAttr(t.trialId, ATTR.failReason, reason);
      const ok = await this.storage.setTrialStateValues(t.trialId, TrialState.FAIL, null);
      if (!ok) return 'taken';
    } catch (e) {
      if (e instanceof StaleTrialError) return 'taken';
      throw e;
    }
    this.o.emit({ kind: 'reaped', number: t.number, reason });
    const count = Number(t.systemAttrs[ATTR.retryCount] ?? 0) + (countsAsRetry ? 1 : 0);
    if (countsAsRetry && count > this.o.retries) return 'final';
    await this.storage.createNewTrial(this.study.studyId, {
      state: TrialState.WAITING,
      systemAttrs: {
        [FIXED_PARAMS_ATTR]: { ...t.params },
        [ATTR.retriedFrom]: t.number,
        [ATTR.retryCount]: count,
        ...(t.systemAttrs[ATTR.workDir] ? { [ATTR.workDir]: t.systemAttrs[ATTR.workDir] } : {}),
        ...(t.systemAttrs[ATTR.trackingRunId] ? { [ATTR.retriedRunId]: t.systemAttrs[ATTR.trackingRunId] } : {}),
      },
    });
    return 'retried';
  }

  /** Reaps a trial whose driver is gone; without a retry to end its run, ends it here. */
  private async reapLost(t: FrozenTrial, reason: string): Promise<void> {
    if ((await this.reap(t, reason, true)) !== 'final') return;
    try {
      await this.o.endLostRun?.(t, reason);
    } catch (e) {
      this.o.emit({ kind: 'info', message: `trial ${t.number}: cannot end its tracking run: ${(e as Error).message}` });
    }
  }

  /** RUNNING trials of dead drivers (`mine`: trial ids this driver runs, never reaped). */
  async reapDead(mine: ReadonlyMap<number, unknown>): Promise<void> {
    const hb = this.o.heartbeatSeconds;
    const runningTrials = await this.storage.getAllTrials(this.study.studyId, [TrialState.RUNNING]);
    const stale = new Set(this.storage.getStaleTrialIds ? await this.storage.getStaleTrialIds(this.study.studyId, hb * 4) : []);
    for (const t of runningTrials) {
      if (mine.has(t.trialId) || t.systemAttrs[ATTR.driverId] === this.me.driverId) continue;
      const sameHost = t.systemAttrs[ATTR.host] === this.me.host;
      const pid = Number(t.systemAttrs[ATTR.pid]);
      if (sameHost && pid && !pidAlive(pid)) await this.reapLost(t, `worker lost: driver process ${pid} on ${this.me.host} is gone`);
      else if (stale.has(t.trialId)) await this.reapLost(t, `worker lost: no heartbeat for over ${hb * 4}s`);
    }
  }

  /** Every beat: heartbeats for the trials in `mine`, then a reaping pass. Returns the stopper. */
  startHeartbeat(mine: ReadonlyMap<number, unknown>): () => void {
    const beat = setInterval(() => {
      void (async () => {
        try {
          for (const id of mine.keys()) await this.storage.recordHeartbeat?.(id);
          await this.reapDead(mine);
        } catch (e) {
          this.o.emit({ kind: 'info', message: `heartbeat: ${(e as Error).message}` });
        }
      })();
    }, this.o.heartbeatSeconds * 1000);
    beat.unref();
    return () => clearInterval(beat);
  }
}
