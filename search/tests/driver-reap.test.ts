import * as os from 'node:os';
import * as path from 'node:path';
import { JsonlTrackingBackend, readJsonl } from '@iccl/trainer-api';
import { ATTR, openStudy, runStudy } from '../src/driver/run-study';
import { StudyProgress } from '../src/driver/progress';
import { CompiledSpace, parseSearchSpace } from '../src/spaces';
import { PostgresStorage } from '../src/storages/postgres';
import { InMemoryStorage } from '../src/storages/memory';
import { RandomSampler } from '../src/samplers/random';
import { NopPruner } from '../src/pruners/nop';
import { StudyDirection, TrialState, type FrozenTrial } from '../src/study/trial-types';
import { FIXTURES, freshPgDatabase, tmpDir } from './helpers';

function compiled(logDir: string) {
  return new CompiledSpace(
    parseSearchSpace(
      {
        name: 'reap',
        plugin: path.join(FIXTURES, 'test-plugin.ts'),
        fixed: { epochs: 1, logDir },
        params: { x: { type: 'float', low: -1, high: 1 } },
        objectives: [{ metric: 'loss', direction: 'minimize' }],
      },
      'reap',
    ),
    'reap',
  );
}

describe('dead workers on other hosts (PostgreSQL heartbeats)', () => {
  it('fails a RUNNING trial whose heartbeat stopped, with the reason, and runs its retry', async () => {
    const url = await freshPgDatabase('reap');
    const storage = new PostgresStorage(url);
    const dir = tmpDir('reap');
    const space = compiled(dir);
    const sampler = new RandomSampler(0);
    const study = await openStudy({ studyName: 'r', space, storage, sampler, pruner: new NopPruner() });
    // A trial "running" on a host that died an hour ago (its heartbeat aged on the server's clock).
    const t = await study.ask();
    await t.suggestFloat('x', -1, 1);
    await storage.setTrialSystemAttr(t.trialId, ATTR.host, 'gone-host');
    await storage.setTrialSystemAttr(t.trialId, ATTR.pid, 4242);
    await storage.pool.query("UPDATE iccl_trials SET heartbeat = now() - interval '1 hour' WHERE trial_id = $1", [t.trialId]);
    await runStudy({ studyName: 'r', space, storage, sampler, pruner: new NopPruner(), nTrials: 1, workers: 1, runsDir: path.join(dir, 'runs'), heartbeatSeconds: 15 });
    const trials = await storage.getAllTrials(study.studyId);
    expect(trials.map((x) => TrialState[x.state])).toEqual(['FAIL', 'COMPLETE']);
    expect(trials[0].systemAttrs[ATTR.failReason]).toBe('worker lost: no heartbeat for over 60s');
    expect(trials[1].systemAttrs[ATTR.retriedFrom]).toBe(0);
    expect(trials[1].systemAttrs[ATTR.retryCount]).toBe(1);
    expect(trials[1].params).toEqual(trials[0].params);
    await storage.close();
  }, 60_000);

  it('does not retry beyond the limit, ends the lost run FAILED, and starts no trial after the study time limit', async () => {
    const storage = new InMemoryStorage();
    const dir = tmpDir('limit');
    const tracking = new JsonlTrackingBackend(path.join(dir, 'tracking'));
    const space = compiled(dir);
    const sampler = new RandomSampler(0);
    const study = await openStudy({ studyName: 'l', space, storage, sampler, pruner: new NopPruner() });
    const t = await study.ask();
    await storage.setTrialSystemAttr(t.trialId, ATTR.retryCount, 1); // already a retry
    // The in-memory storage has no heartbeats: a same-host dead pid is what gives the worker away.
    await storage.setTrialSystemAttr(t.trialId, ATTR.host, os.hostname());
    await storage.setTrialSystemAttr(t.trialId, ATTR.pid, 2 ** 22 + 12345); // above pid_max: never alive
    // The dead driver had started the trial's run and never ended it.
    const lost = await tracking.startRun({ name: 'l#0' });
    lost.logMetrics({ loss: 1 }, 1);
    await storage.setTrialSystemAttr(t.trialId, ATTR.trackingRunId, lost.runId);
    const r = await runStudy({ studyName: 'l', space, storage, sampler, pruner: new NopPruner(), nTrials: 5, workers: 1, retries: 1, studyTimeout: 0, runsDir: path.join(dir, 'runs'), tracking });
    expect(r.interrupted).toBe(false);
    const trials = await storage.getAllTrials(study.studyId);
    expect(trials.map((x) => TrialState[x.state])).toEqual(['FAIL']); // reaped, no retry (limit 1 reached), no new trial (time is up)
    expect(String(trials[0].systemAttrs[ATTR.failReason])).toMatch(/^worker lost: driver process \d+ on .* is gone$/);
    // No retry will end the lost attempt's run: the reaper does, FAILED with the reason.
    const records = readJsonl(path.join(dir, 'tracking', `${lost.runId}.jsonl`));
    expect(records.filter((x) => x.kind === 'end')).toEqual([expect.objectContaining({ kind: 'end', status: 'FAILED' })]);
    expect(JSON.stringify(records)).toContain('worker lost: driver process');
  });
});

describe('StudyProgress (plain lines off a TTY)', () => {
  const finished = (number: number, state: TrialState, values: number[] | null, failReason?: string): FrozenTrial => ({
    trialId: number,
    number,
    state,
    values,
    datetimeStart: null,
    datetimeComplete: null,
    params: {},
    distributions: {},
    userAttrs: {},
    systemAttrs: failReason ? { fail_reason: failReason } : {},
    intermediateValues: new Map(),
  });
  it('counts done/running/pruned/failed and keeps the best value for the direction', () => {
    const lines: string[] = [];
    const p = new StudyProgress(4, StudyDirection.MAXIMIZE, false, (l) => lines.push(l));
    p.onEvent({ kind: 'started', number: 0, params: {} });
    p.onEvent({ kind: 'started', number: 1, params: {} });
    p.onEvent({ kind: 'finished', trial: finished(0, TrialState.COMPLETE, [0.5]) });
    p.onEvent({ kind: 'started', number: 2, params: {} });
    p.onEvent({ kind: 'finished', trial: finished(1, TrialState.COMPLETE, [0.7]) });
    p.onEvent({ kind: 'finished', trial: finished(2, TrialState.FAIL, null, 'boom') });
    p.onEvent({ kind: 'started', number: 3, params: {} });
    p.onEvent({ kind: 'finished', trial: finished(3, TrialState.PRUNED, [0.9]) });
    expect(lines[0]).toMatch(/^trial 0 COMPLETE 0\.5 \| trials 1\/4 done, 1 running, 0 pruned, 0 failed; best 0\.500000; ETA \d+s$/);
    expect(lines[2]).toMatch(/^trial 2 FAIL \(boom\) \| trials 3\/4 done, 0 running, 0 pruned, 1 failed; best 0\.700000; ETA/);
    // a pruned trial's value is not a best value
    expect(lines[3]).toMatch(/^trial 3 PRUNED 0\.9 \| trials 4\/4 done, 0 running, 1 pruned, 1 failed; best 0\.700000; ETA 0s$/);
    const resumed: string[] = [];
    const q = new StudyProgress(10, StudyDirection.MINIMIZE, false, (l) => resumed.push(l));
    q.onEvent({ kind: 'resumed', done: 7 });
    expect(resumed).toEqual(['resuming: 7 trial(s) already done']);
    expect(q.line()).toBe('trials 7/10 done, 0 running, 0 pruned, 0 failed; best -; ETA -');
  });
});
