import * as fs from 'node:fs';
import * as path from 'node:path';
import { JsonlTrackingBackend, readJsonl } from '@iccl/trainer-api';
import { ATTR, openStudy, runStudy, type TrialEvent } from '../src/driver/run-study';
import { CompiledSpace, parseSearchSpace } from '../src/spaces';
import { JournalStorage } from '../src/storages/journal';
import { RandomSampler } from '../src/samplers/random';
import type { Pruner } from '../src/pruners/base';
import { lastStep, TrialState, type FrozenTrial } from '../src/study/trial-types';
import { FIXTURES, python, tmpDir } from './helpers';

/** Prunes trials whose mode is "prune" once they reported step 2. */
const pruneMode: Pruner = { prune: async (_s, t: FrozenTrial) => t.params.mode === 'prune' && (lastStep(t) ?? 0) >= 2 };

function space(logDir: string) {
  return parseSearchSpace(
    {
      name: 'driver-test',
      plugin: path.join(FIXTURES, 'test-plugin.ts'),
      fixed: { epochs: 3, logDir },
      params: { x: { type: 'float', low: -2, high: 2 }, mode: { type: 'categorical', choices: ['ok', 'throw', 'nan', 'crash', 'hang', 'prune'] } },
      objectives: [{ metric: 'loss', direction: 'minimize' }],
    },
    'driver-test',
  );
}

describe('runStudy (trial processes, journal storage)', () => {
  it('records each way a trial can end, retries a crashed one in its work dir, and tracks parent/child runs', async () => {
    const dir = tmpDir('driver');
    const file = path.join(dir, 's.journal');
    const storage = new JournalStorage(file);
    const compiled = new CompiledSpace(space(dir), 'driver-test');
    const sampler = new RandomSampler(1);
    const study = await openStudy({ studyName: 'modes', space: compiled, storage, sampler, pruner: pruneMode });
    const modes = ['ok', 'throw', 'nan', 'crash', 'hang', 'prune'];
    for (const [i, mode] of modes.entries()) await study.enqueueTrial({ x: i / 4, mode });
    const events: TrialEvent[] = [];
    const tracking = new JsonlTrackingBackend(path.join(dir, 'tracking'));
    const { interrupted } = await runStudy({
      studyName: 'modes',
      space: compiled,
      storage,
      sampler,
      pruner: pruneMode,
      nTrials: 6,
      workers: 3,
      trialTimeout: 4,
      abortGraceMs: 2000,
      retries: 1,
      runsDir: path.join(dir, 'runs'),
      tracking,
      onEvent: (e) => events.push(e),
    });
    expect(interrupted).toBe(false);
    const trials = await storage.getAllTrials(study.studyId);
    const byMode = (m: string) => trials.filter((t) => t.params.mode === m);
    expect(trials.length).toBe(7); // six planned, plus the crashed one's retry

    const [ok] = byMode('ok');
    expect(ok.state).toBe(TrialState.COMPLETE);
    expect(ok.values).toEqual([0]);
    // the result's metrics over the last report's
    expect(ok.userAttrs.metrics).toEqual({ loss: 0, 'eval/many': 0.9, 'eval/medium': 0.6, 'eval/few': 0.2 });
    expect([...ok.intermediateValues.entries()]).toEqual([
      [1, 1],
      [2, 0.5],
      [3, 1 / 3],
    ]);

    const [thrown] = byMode('throw');
    expect(thrown.state).toBe(TrialState.FAIL);
    expect(thrown.systemAttrs[ATTR.failReason]).toBe('asked to throw at epoch 2');

    const [nan] = byMode('nan');
    expect(nan.state).toBe(TrialState.FAIL);
    expect(String(nan.systemAttrs[ATTR.failReason])).toContain('non-finite');

    const crash = byMode('crash');
    expect(crash.map((t) => t.state)).toEqual([TrialState.FAIL, TrialState.COMPLETE]);
    expect(crash[0].systemAttrs[ATTR.failReason]).toBe('trial process exited (code 3) without a result');
    expect(crash[1].systemAttrs[ATTR.retriedFrom]).toBe(crash[0].number);
    expect(crash[1].systemAttrs[ATTR.workDir]).toBe(crash[0].systemAttrs[ATTR.workDir]);
    expect(crash[1].values).toEqual([0.75 * 0.75]);

    const [hang] = byMode('hang');
    expect(hang.state).toBe(TrialState.FAIL);
    expect(hang.systemAttrs[ATTR.failReason]).toBe('trial time limit of 4s exceeded');

    const [pruned] = byMode('prune');
    expect(pruned.state).toBe(TrialState.PRUNED);
    expect(lastStep(pruned)).toBe(2);
    expect(pruned.values).toEqual([pruned.intermediateValues.get(2)]);

    // Every trial was executed once, the crashed one twice.
    const execs = fs.readFileSync(path.join(dir, 'exec.log'), 'utf8').trim().split('\n').sort();
    expect(execs).toEqual(['0 ok', '1 throw', '2 nan', '3 crash', '4 hang', '5 prune', '6 crash'].sort());
    expect(events.filter((e) => e.kind === 'finished').length).toBe(7);

    // Tracking: one parent run for the study, one child run per trial pointing at it; ids in system attrs.
    const studyRunId = (await storage.getStudySystemAttrs(study.studyId))[ATTR.trackingRunId] as string;
    const parent = readJsonl(path.join(dir, 'tracking', `${studyRunId}.jsonl`));
    expect(parent[0]).toMatchObject({ kind: 'start', name: 'modes' });
    expect(parent[parent.length - 1]).toMatchObject({ kind: 'end', status: 'FINISHED' });
    const okRun = readJsonl(path.join(dir, 'tracking', `${ok.systemAttrs[ATTR.trackingRunId] as string}.jsonl`));
    expect(okRun[0]).toMatchObject({ kind: 'start', parentRunId: studyRunId });
    expect(okRun.filter((r) => r.kind === 'metrics').map((r) => (r as { metrics: Record<string, number> }).metrics)).toEqual([{ started: 1 }, { loss: 1 }, { loss: 0.5 }, { loss: 1 / 3 }]);
    expect(okRun[okRun.length - 1]).toMatchObject({ kind: 'end', status: 'FINISHED' });
    // The retry has a run of its own (no step logged twice); the crashed attempt's run ended FAILED.
    const lostRunId = crash[0].systemAttrs[ATTR.trackingRunId] as string;
    const retryRunId = crash[1].systemAttrs[ATTR.trackingRunId] as string;
    expect(retryRunId).not.toBe(lostRunId);
    expect(crash[1].systemAttrs[ATTR.retriedRunId]).toBe(lostRunId);
    const lostRun = readJsonl(path.join(dir, 'tracking', `${lostRunId}.jsonl`));
    const retryRun = readJsonl(path.join(dir, 'tracking', `${retryRunId}.jsonl`));
    expect(lostRun[lostRun.length - 1]).toMatchObject({ kind: 'end', status: 'FAILED' });
    expect(retryRun[0]).toMatchObject({ kind: 'start', parentRunId: studyRunId });
    expect(retryRun[1]).toMatchObject({ kind: 'tags', tags: { 'iccl.retried_from': String(crash[0].number) } });
    expect(retryRun[retryRun.length - 1]).toMatchObject({ kind: 'end', status: 'FINISHED' });

    // The journal is still Optuna's: the real optuna reads every trial and its fail reason.
    const py = JSON.parse(python('optuna_read.py', [file, 'symlink'])) as { trials: { state: string; system_attrs: Record<string, unknown> }[] }[];
    expect(py[0].trials.map((t) => t.state)).toEqual(trials.map((t) => TrialState[t.state]));
    expect(py[0].trials[1].system_attrs.fail_reason).toBe('asked to throw at epoch 2');
    await storage.close();
  }, 120_000);
});
