import { PostgresStorage } from '../src/storages/postgres';
import { DuplicatedStudyError, StaleTrialError, StudyNotFoundError } from '../src/storages/base';
import { StudyDirection, TrialState } from '../src/study/trial-types';
import type { Distribution } from '../src/study/distributions';
import { freshPgDatabase } from './helpers';

const X: Distribution = { kind: 'float', low: -5, high: 5, log: false, step: null };
const C: Distribution = { kind: 'categorical', choices: ['a', 'b', null] };
const N: Distribution = { kind: 'int', low: 1, high: 64, log: true, step: 1 };

describe('PostgresStorage (real server)', () => {
  let url: string;
  const open: PostgresStorage[] = [];
  const storage = () => {
    const s = new PostgresStorage(url);
    open.push(s);
    return s;
  };
  beforeAll(async () => {
    url = await freshPgDatabase('storage');
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
  });

  it('stores studies, trials, params, values (NaN and infinities too), attrs and intermediate values', async () => {
    const s = storage();
    const sid = await s.createStudy([StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE], 'basic');
    await expect(s.createStudy([StudyDirection.MINIMIZE], 'basic')).rejects.toBeInstanceOf(DuplicatedStudyError);
    await expect(s.getStudyIdFromName('nope')).rejects.toBeInstanceOf(StudyNotFoundError);
    expect(await s.getStudyIdFromName('basic')).toBe(sid);
    expect(await s.getStudyDirections(sid)).toEqual([StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE]);
    await s.setStudyUserAttr(sid, 'k', { a: [1, 2] });
    await s.setStudySystemAttr(sid, 'h', 'abc');
    expect(await s.getStudyUserAttrs(sid)).toEqual({ k: { a: [1, 2] } });
    expect(await s.getStudySystemAttrs(sid)).toEqual({ h: 'abc' });
    const t = await s.createNewTrial(sid);
    await s.setTrialParam(t, 'x', 1.5, X);
    await s.setTrialParam(t, 'c', 2, C);
    await s.setTrialParam(t, 'n', 8, N);
    await s.setTrialIntermediateValue(t, 0, NaN);
    await s.setTrialIntermediateValue(t, 3, -Infinity);
    await s.setTrialIntermediateValue(t, 3, 2.5); // overwrite the same step
    await s.setTrialUserAttr(t, 'metrics', { 'eval/few': 0.25 });
    await s.setTrialSystemAttr(t, 'fail_reason', 'x');
    expect(await s.setTrialStateValues(t, TrialState.COMPLETE, [Infinity, NaN])).toBe(true);
    const f = await s.getTrial(t);
    expect(f.number).toBe(0);
    expect(f.state).toBe(TrialState.COMPLETE);
    expect(f.values![0]).toBe(Infinity);
    expect(f.values![1]).toBeNaN();
    expect(f.params).toEqual({ x: 1.5, c: null, n: 8 });
    expect(f.distributions).toEqual({ x: X, c: C, n: N });
    expect([...f.intermediateValues.entries()]).toEqual([
      [0, NaN],
      [3, 2.5],
    ]);
    expect(f.userAttrs).toEqual({ metrics: { 'eval/few': 0.25 } });
    expect(f.datetimeStart!.getTime()).toBeLessThanOrEqual(f.datetimeComplete!.getTime());
    await expect(s.setTrialUserAttr(t, 'late', 1)).rejects.toBeInstanceOf(StaleTrialError);
    await expect(s.setTrialStateValues(t, TrialState.FAIL)).rejects.toBeInstanceOf(StaleTrialError);
    const w = await s.createNewTrial(sid, { state: TrialState.WAITING, params: { x: 0.5 }, distributions: { x: X }, systemAttrs: { fixed_params: { x: 0.5 } } });
    const fw = await s.getTrial(w);
    expect(fw).toMatchObject({ number: 1, state: TrialState.WAITING, params: { x: 0.5 }, datetimeStart: null });
    expect((await s.getAllTrials(sid, [TrialState.WAITING])).map((x) => x.trialId)).toEqual([w]);
    expect(await s.getTrialIdFromStudyIdTrialNumber(sid, 1)).toBe(w);
    await s.deleteStudy(sid);
    await expect(s.getAllTrials(sid)).rejects.toBeInstanceOf(StudyNotFoundError);
  });

  it('hands out unique trial numbers and claims each WAITING trial once across "hosts" (separate pools)', async () => {
    const hosts = [storage(), storage(), storage()];
    const sid = await hosts[0].createStudy([StudyDirection.MINIMIZE], 'concurrent');
    const waiting: number[] = [];
    for (let i = 0; i < 30; i++) waiting.push(await hosts[0].createNewTrial(sid, { state: TrialState.WAITING }));
    // Every host tries to claim every waiting trial at once.
    const claims = await Promise.all(hosts.flatMap((h, k) => waiting.map(async (id) => ((await h.setTrialStateValues(id, TrialState.RUNNING)) ? `${k}:${id}` : null))));
    const won = claims.filter((c): c is string => c !== null);
    expect(won.length).toBe(30);
    expect(new Set(won.map((c) => c.split(':')[1])).size).toBe(30);
    // Concurrent creates: numbers 30..89, each once.
    const created = await Promise.all(hosts.flatMap((h) => Array.from({ length: 20 }, () => h.createNewTrial(sid))));
    const numbers = (await hosts[1].getAllTrials(sid)).map((t) => t.number);
    expect(numbers).toEqual(Array.from({ length: 90 }, (_x, i) => i));
    expect(new Set(created).size).toBe(60);
  });

  it('createTrialWithinLimit: many "hosts" at once never exceed the limit; exempt trials do not count', async () => {
    const hosts = [storage(), storage(), storage()];
    const sid = await hosts[0].createStudy([StudyDirection.MINIMIZE], 'budget');
    await hosts[0].createNewTrial(sid, { state: TrialState.WAITING, systemAttrs: { retried_from: 0 } });
    await hosts[0].createNewTrial(sid);
    const made = await Promise.all(hosts.flatMap((h) => Array.from({ length: 10 }, () => h.createTrialWithinLimit(sid, 7, 'retried_from'))));
    expect(made.filter((id) => id !== null).length).toBe(6); // 7 counted, one of them made before
    const trials = await hosts[2].getAllTrials(sid);
    expect(trials.length).toBe(8);
    expect(trials.map((t) => t.number)).toEqual(Array.from({ length: 8 }, (_x, i) => i));
    const next = await hosts[1].createTrialWithinLimit(sid, 8, 'retried_from');
    expect((await hosts[1].getTrial(next!)).number).toBe(8);
    expect(await hosts[1].createTrialWithinLimit(sid, 8, 'retried_from')).toBeNull();
  });

  it('reports RUNNING trials whose heartbeat is older than the grace period', async () => {
    const s = storage();
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 'heartbeat');
    const a = await s.createNewTrial(sid);
    const b = await s.createNewTrial(sid);
    // Age trial a's heartbeat on the server's clock (no sleeping in tests).
    await s.pool.query("UPDATE iccl_trials SET heartbeat = now() - interval '1 hour' WHERE trial_id = $1", [a]);
    expect(await s.getStaleTrialIds(sid, 60)).toEqual([a]);
    await s.recordHeartbeat(a);
    expect(await s.getStaleTrialIds(sid, 60)).toEqual([]);
    await s.setTrialStateValues(b, TrialState.COMPLETE, [1]);
    await s.pool.query("UPDATE iccl_trials SET heartbeat = now() - interval '1 hour'");
    expect(await s.getStaleTrialIds(sid, 60)).toEqual([a]); // finished trials are never stale
  });

  it('gives a database made before the retry tokens its token columns', async () => {
    const old = new PostgresStorage(await freshPgDatabase('older'));
    open.push(old);
    await old.getAllStudies(); // creates the tables
    await old.pool.query('ALTER TABLE iccl_trials DROP COLUMN create_token, DROP COLUMN claim_token');
    const s = new PostgresStorage(old.url);
    open.push(s);
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 'older');
    const w = await s.createNewTrial(sid, { state: TrialState.WAITING });
    expect(await s.setTrialStateValues(w, TrialState.RUNNING)).toBe(true);
    const cols = await s.pool.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'iccl_trials' AND column_name LIKE '%_token' ORDER BY 1");
    expect(cols.rows.map((r: { column_name: string }) => r.column_name)).toEqual(['claim_token', 'create_token']);
  });

  it('retries an operation cut off by a dropped connection, and says so in one line each way', async () => {
    const lines: string[] = [];
    const s = new PostgresStorage(url, 1, { log: (l) => lines.push(l) });
    open.push(s);
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 'dropped');
    const killer = storage();
    // The server ends the session in the middle of a statement; the statement is run again.
    const q = (s as unknown as { q: (sql: string) => Promise<{ pid: number }[]> }).q.bind(s);
    const slow = q('SELECT pg_backend_pid() AS pid, pg_sleep(0.8)');
    await new Promise((r) => setTimeout(r, 300));
    const busy = (await killer.pool.query("SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_backend_pid() AS pid, pg_sleep%' AND pid <> pg_backend_pid()")).rows as { pid: number }[];
    expect(busy.length).toBe(1);
    await killer.pool.query('SELECT pg_terminate_backend($1)', [busy[0].pid]);
    const [again] = await slow;
    expect(again.pid).not.toBe(busy[0].pid); // answered on a new connection
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/^WARN: PostgreSQL storage: lost the connection to postgresql:\/\/postgres@127\.0\.0\.1:\d+\/\w+ \(terminating connection due to administrator command\); retrying for up to 120s$/);
    expect(lines[1]).toMatch(/^PostgreSQL storage: reconnected to .* after \d+\.\ds$/);
    const t = await s.createNewTrial(sid);
    expect((await s.getAllTrials(sid)).map((x) => x.trialId)).toEqual([t]);
    // Nothing listening: the operation gives up after reconnectSeconds with one clear line.
    const gone = new PostgresStorage(url, 1, { reconnectSeconds: 0.3, log: () => undefined });
    open.push(gone);
    await gone.getAllStudies();
    (gone as unknown as { pool: { query: () => Promise<never> } }).pool.query = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    };
    await expect(gone.getAllStudies()).rejects.toThrow(/^PostgreSQL storage: no connection to postgresql:\/\/.* for 0\.3s \(connect ECONNREFUSED 127\.0\.0\.1:1\)$/);
  });

  it('a create or claim whose commit went through before the connection dropped is not done twice', async () => {
    const s = new PostgresStorage(url, 2, { log: () => undefined });
    open.push(s);
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 'ack-lost');
    const waiting = await s.createNewTrial(sid, { state: TrialState.WAITING });
    // The next COMMIT succeeds on the server, then the client sees the connection reset.
    const connect = s.pool.connect.bind(s.pool);
    let cut = 0;
    // (pool.query calls connect with a callback: that path stays as it was)
    (s.pool as unknown as { connect: (cb?: unknown) => unknown }).connect = (cb?: unknown) => (cb ? (connect as (cb: unknown) => void)(cb) : patched());
    const patched = async () => {
      const c = await connect();
      const query = c.query.bind(c) as (sql: string, args?: unknown, cb?: unknown) => Promise<unknown>;
      (c as unknown as { query: typeof query }).query = (sql: string, args?: unknown, cb?: unknown) =>
        cb || typeof args === 'function'
          ? query(sql, args, cb) // pool.query's callback form, later, on this pooled client
          : query(sql, args).then((r) => {
              if (sql === 'COMMIT' && cut-- > 0) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
              return r;
            });
      return c;
    };
    cut = 1;
    const made = await s.createNewTrial(sid);
    cut = 1;
    const limited = await s.createTrialWithinLimit(sid, 10, 'retried_from');
    cut = 1;
    expect(await s.setTrialStateValues(waiting, TrialState.RUNNING)).toBe(true);
    cut = 1;
    expect(await s.setTrialStateValues(made, TrialState.COMPLETE, [1])).toBe(true);
    const trials = await s.getAllTrials(sid);
    expect(trials.map((t) => t.trialId)).toEqual([waiting, made, limited]);
    expect(trials.map((t) => TrialState[t.state])).toEqual(['RUNNING', 'COMPLETE', 'RUNNING']);
  }, 30_000);

  it('fails with a clear message when the server cannot be reached', async () => {
    const s = new PostgresStorage('postgresql://postgres@127.0.0.1:1/none');
    await expect(s.getAllStudies()).rejects.toThrow(/PostgreSQL storage: cannot connect to postgresql:\/\/postgres@127\.0\.0\.1:1\/none/);
    await s.close();
  });
});
