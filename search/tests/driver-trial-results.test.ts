import * as path from 'node:path';
import { openStudy } from '../src/driver/run-study';
import { Reaper } from '../src/driver/reaping';
import { recordOutcome, type TrialResultsContext } from '../src/driver/trial-results';
import type { TrialEvent } from '../src/driver/events';
import { NopPruner } from '../src/pruners/nop';
import { RandomSampler } from '../src/samplers/random';
import { CompiledSpace, parseSearchSpace } from '../src/spaces';
import { InMemoryStorage } from '../src/storages/memory';
import { TrialState } from '../src/study/trial-types';
import { FIXTURES } from './helpers';

async function setUp() {
  const space = new CompiledSpace(
    parseSearchSpace(
      { name: 'results', plugin: path.join(FIXTURES, 'test-plugin.ts'), params: { x: { type: 'float', low: -1, high: 1 } }, objectives: [{ metric: 'loss', direction: 'minimize' }] },
      'results',
    ),
    'results',
  );
  const storage = new InMemoryStorage();
  const pruner = new NopPruner();
  const study = await openStudy({ studyName: 'r', space, storage, sampler: new RandomSampler(0), pruner });
  const events: TrialEvent[] = [];
  const emit = (e: TrialEvent) => events.push(e);
  const reaper = new Reaper(storage, study, { driverId: 'me', host: 'here' }, { retries: 0, heartbeatSeconds: 15, emit });
  const c: TrialResultsContext = { storage, study, space, pruner, reaper, emit };
  return { c, storage, study, events };
}

describe('recordOutcome', () => {
  it("takes Study.tell's TrialAlreadyFinishedError as a trial finished elsewhere", async () => {
    const { c, storage, study, events } = await setUp();
    const t = await study.ask();
    await study.tell(t, { state: TrialState.PRUNED });
    await recordOutcome(c, await storage.getTrial(t.trialId), { kind: 'pruned', lastReported: {} });
    expect(events.map((e) => e.kind === 'info' && e.message)).toEqual(['trial 0 was finished elsewhere (its worker was taken as dead): tell: trial 0 is already PRUNED']);
  });

  it('takes a trial that another worker already finished as finished elsewhere, for each kind of end', async () => {
    for (const outcome of [
      { kind: 'pruned' as const, lastReported: {} },
      { kind: 'timeout' as const, reason: 'slow', lastReported: {} },
      { kind: 'done' as const, msg: { type: 'done' as const, objective: 0.5, metrics: { loss: 0.5 } }, lastReported: {} },
    ]) {
      const { c, storage, study, events } = await setUp();
      const t = await study.ask();
      await study.tell(t, { state: TrialState.FAIL }); // the other worker's verdict
      const frozen = await storage.getTrial(t.trialId);
      await expect(recordOutcome(c, frozen, outcome)).resolves.toMatchObject({ status: 'FAILED' });
      // pruned: Study.tell finds the trial finished; the others: the storage refuses their first write
      expect(events).toEqual([{ kind: 'info', message: expect.stringMatching(/^trial 0 was finished elsewhere \(its worker was taken as dead\): .*already FAIL/) }]);
      expect(TrialState[(await storage.getTrial(t.trialId)).state]).toBe('FAIL');
    }
  });

  it('still throws what is not a finished trial', async () => {
    const { c, storage, study } = await setUp();
    const t = await study.ask();
    const frozen = await storage.getTrial(t.trialId);
    storage.setTrialStateValues = () => Promise.reject(new Error('disk on fire'));
    await expect(recordOutcome(c, frozen, { kind: 'pruned', lastReported: {} })).rejects.toThrow('disk on fire');
  });
});
