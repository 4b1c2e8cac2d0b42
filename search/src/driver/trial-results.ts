/**
 * What a trial's messages become in storage: reports as intermediate values (and the pruner's
 * verdict), and the trial's end as its final state, or a reap with a retry when it was lost.
 */
import type { Pruner } from '../pruners/base';
import { PER_CLASS_ATTR, perClassFromArtifacts } from '../report/per-class';
import type { CompiledSpace } from '../spaces/compile';
import { metricValue } from '../spaces/metric-names';
import { StaleTrialError, type Storage } from '../storages/base';
import type { Study } from '../study/study';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import { ATTR } from './attrs';
import type { Emit } from './events';
import type { Reaper } from './reaping';
import type { RunStatus } from './tracking-bridge';
import type { TrialOutcome } from './trial-process';

export interface TrialResultsContext {
  storage: Storage;
  study: Study;
  space: CompiledSpace;
  pruner: Pruner;
  reaper: Reaper;
  emit: Emit;
}

/** Stores a report's intermediate value; true when the pruner says stop (asked only when `ask`). */
export async function recordReport(c: TrialResultsContext, t: FrozenTrial, step: number, metrics: Record<string, number>, ask: boolean): Promise<boolean> {
  const v = metricValue(metrics, c.space.intermediateMetric);
  if (typeof v !== 'number') return false;
  await c.storage.setTrialIntermediateValue(t.trialId, step, v);
  return ask ? c.pruner.prune(c.study, await c.storage.getTrial(t.trialId)) : false;
}

/** Writes the trial's final state; returns the status and reason for its tracking run. */
export async function recordOutcome(c: TrialResultsContext, t: FrozenTrial, outcome: TrialOutcome): Promise<{ status: RunStatus; reason?: string }> {
  const { storage, study, space } = c;
  let status: RunStatus = 'FAILED';
  let reason: string | undefined;
  const fail = async (why: string) => {
    reason = why;
    await storage.setTrialSystemAttr(t.trialId, ATTR.failReason, why);
    await study.tell(t.number, { state: TrialState.FAIL });
  };
  try {
    if (outcome.kind === 'done' && outcome.msg?.type === 'done') {
      const m = outcome.msg;
      const metrics = { ...outcome.lastReported, ...m.metrics };
      await storage.setTrialUserAttr(t.trialId, 'metrics', metrics);
      // the per-class table goes into the study, so the report draws the tail wherever the study is read
      const perClass = perClassFromArtifacts(m.artifacts ?? []);
      if (perClass) await storage.setTrialUserAttr(t.trialId, PER_CLASS_ATTR, perClass);
      // (a NaN arrives as null: it is present, and the study calls it non-finite)
      const values = space.objectiveMetrics.map((name, i) => {
        const v = metricValue(metrics, name);
        return v !== undefined ? v : i === 0 && space.objectiveMetrics.length === 1 ? m.objective : undefined;
      });
      const missing = space.objectiveMetrics.filter((_n, i) => values[i] === undefined);
      if (missing.length) {
        await fail(`the trainer's result has no metric ${missing.join(', ')} (it has: ${Object.keys(metrics).join(', ') || 'none'})`);
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
      await fail(outcome.msg.reason);
    } else if (outcome.kind === 'timeout') {
      await fail(outcome.reason ?? 'timed out');
    } else {
      // Crashed or interrupted: the trial itself may be fine; run it again (interrupts are free).
      reason = outcome.reason;
      status = outcome.kind === 'interrupted' ? 'KILLED' : 'FAILED';
      await c.reaper.reap(await storage.getTrial(t.trialId), reason ?? 'lost', outcome.kind === 'crashed');
    }
  } catch (e) {
    // StaleTrialError: a storage write, or Study.tell (TrialAlreadyFinishedError), found the trial finished
    if (!(e instanceof StaleTrialError)) throw e;
    c.emit({ kind: 'info', message: `trial ${t.number} was finished elsewhere (its worker was taken as dead): ${e.message}` });
  }
  return { status, reason };
}
