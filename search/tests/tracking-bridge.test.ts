import * as path from 'node:path';
import type { StartRunOptions, Tracker, TrackingBackend } from '@iccl/trainer-api';
import { ATTR, openStudy, runStudy } from '../src/driver/run-study';
import { TrackingBridge } from '../src/driver/tracking-bridge';
import { CompiledSpace, parseSearchSpace } from '../src/spaces';
import { InMemoryStorage } from '../src/storages/memory';
import { RandomSampler } from '../src/samplers/random';
import { NopPruner } from '../src/pruners/nop';
import { FIXTURES, tmpDir } from './helpers';

/** A run that the server creates late: known by a key reference until `create()`. */
class LateRun implements Tracker {
  private id: string | undefined;
  constructor(private readonly key: string) {}
  get runId(): string {
    return this.id ?? `iccl-run-key:${this.key}`;
  }
  create(): void {
    this.id = `server-id-of-${this.key}`;
  }
  logParams(): void {}
  logMetrics(_m: Record<string, number>, _step?: number): void {}
  setTags(): void {}
  logInput(): void {}
  async logArtifact(): Promise<void> {}
  async flush(): Promise<void> {}
  async end(): Promise<void> {}
}

class LateBackend implements TrackingBackend {
  readonly name = 'late';
  readonly runs: LateRun[] = [];
  async startRun(o: StartRunOptions): Promise<Tracker> {
    const r = new LateRun(o.name);
    this.runs.push(r);
    return r;
  }
  async close(): Promise<void> {}
}

describe('TrackingBridge', () => {
  it('writes the real run id on the trial once a run created after an outage has one', async () => {
    const dir = tmpDir('bridge');
    const space = new CompiledSpace(
      parseSearchSpace({ name: 'b', plugin: path.join(FIXTURES, 'test-plugin.ts'), params: { x: { type: 'float', low: 0, high: 1 } }, objectives: [{ metric: 'loss', direction: 'minimize' }] }, 'b'),
      'b',
    );
    const storage = new InMemoryStorage();
    const study = await openStudy({ studyName: 'b', space, storage, sampler: new RandomSampler(0), pruner: new NopPruner() });
    const tracking = new LateBackend();
    const bridge = await TrackingBridge.open(tracking, storage, study, { studyName: 'b', space, runsDir: dir });
    const t = await study.ask();
    await t.suggestFloat('x', 0, 1);
    const frozen = await storage.getTrial(t.trialId);
    const tracked = await bridge.startTrial(frozen, { plugin: 'p' });
    const attr = async () => (await storage.getTrial(t.trialId)).systemAttrs[ATTR.trackingRunId];
    expect(await attr()).toBe('iccl-run-key:b#0');

    await bridge.recordRunId(frozen, tracked); // still not created: nothing to change
    expect(await attr()).toBe('iccl-run-key:b#0');
    tracking.runs[1].create();
    await bridge.recordRunId(frozen, tracked);
    expect(await attr()).toBe('server-id-of-b#0');
  });
});

/** A tracker that writes what happens to it into a shared log. */
class LoggingRun extends LateRun {
  constructor(
    key: string,
    private readonly log: string[],
  ) {
    super(key);
  }
  override logMetrics(m: Record<string, number>, step?: number): void {
    if ('loss' in m) this.log.push(`metrics ${step}`);
  }
  override async flush(): Promise<void> {
    this.log.push('flush');
  }
}

describe('reports and their metrics', () => {
  it('records a report in the study only after the metrics before it are flushed to tracking', async () => {
    const log: string[] = [];
    const space = new CompiledSpace(
      parseSearchSpace(
        { name: 'r', plugin: path.join(FIXTURES, 'test-plugin.ts'), fixed: { epochs: 3, logDir: tmpDir('order') }, params: { x: { type: 'float', low: 0, high: 1 } }, objectives: [{ metric: 'loss', direction: 'minimize' }] },
        'r',
      ),
      'r',
    );
    // The study side of a report, in the same log.
    class LoggingStorage extends InMemoryStorage {
      override async setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void> {
        log.push(`report ${step}`);
        return super.setTrialIntermediateValue(trialId, step, value);
      }
    }
    const storage = new LoggingStorage();
    const sampler = new RandomSampler(0);
    await openStudy({ studyName: 'r', space, storage, sampler, pruner: new NopPruner() });
    const tracking: TrackingBackend = { name: 'log', startRun: async (o) => new LoggingRun(o.name, log), close: async () => {} };
    await runStudy({ studyName: 'r', space, storage, sampler, pruner: new NopPruner(), nTrials: 1, workers: 1, runsDir: tmpDir('order-runs'), tracking });
    for (const step of [1, 2, 3]) {
      const m = log.indexOf(`metrics ${step}`);
      const r = log.indexOf(`report ${step}`);
      expect(m).toBeGreaterThanOrEqual(0);
      expect(r).toBeGreaterThan(m);
      expect(log.slice(m, r)).toContain('flush');
    }
  }, 60_000);
});
