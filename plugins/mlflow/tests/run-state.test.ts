import { RunStateMachine } from '../src/run-state';
import { OpQueue } from '../src/op-queue';

describe('RunStateMachine', () => {
  test('follows a run through an outage to settled', () => {
    const s = new RunStateMachine('trial-1');
    for (const next of ['open', 'spooling', 'replaying', 'open', 'settled'] as const) s.to(next);
    expect(s.state).toBe('settled');
    expect(s.finished).toBe(true);
  });

  test('an impossible transition throws, naming the run and both states', () => {
    const s = new RunStateMachine('trial-2');
    expect(() => s.to('settled')).toThrow('mlflow run "trial-2": cannot go from opening to settled (allowed: open, spooling, failed, abandoned)');
    s.to('abandoned');
    expect(() => s.to('open')).toThrow(/cannot go from abandoned to open \(allowed: none\)/);
  });
});

describe('OpQueue', () => {
  test('loose items are sealed into a batch before an op queued after them; the op in flight is taken once', () => {
    const q = new OpQueue('k');
    q.metrics.push({ key: 'loss', value: 1, timestamp: 1, step: 0 });
    q.addParams([{ key: 'lr', value: '0.1' }]);
    q.push({ op: 'end', key: 'k', status: 'FINISHED', endTime: 2 });
    expect(q.ended).toBe(true);
    expect(q.inMemory).toBe(2);
    expect(q.next()?.op).toBe('batch');
    expect(q.takeAll().map((o) => o.op)).toEqual(['batch', 'end']); // the op in flight first
    expect(q.inMemory).toBe(0);
    expect(q.done()).toBe(true); // it was spooled while in flight
  });
});
