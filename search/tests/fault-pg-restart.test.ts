// Fault: PostgreSQL restarts (stopped as a crash would, started again seconds later) and, later,
// every connection of the study is dropped, while two drivers run one study. Judged from the rows:
// every trial complete, none lost, none run twice, the budget kept; no process left behind.
import { PostgresStorage } from '../src/storages/postgres';
import { TrialState } from '../src/study/trial-types';
import { cli, commonArgs, execLines, startOwnPg, survivors, tally, trialsOf, until, writeSpace, type OwnPg } from './fault-helpers';
import { tmpDir } from './helpers';

describe('fault: PostgreSQL restart and dropped connections', () => {
  let pg: OwnPg;
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('fault-pg');
    pg = startOwnPg(dir); // its own server: restarting the shared one would disturb other test files
  });
  afterAll(() => pg?.remove());

  it('two drivers wait the outages out with backoff: budget kept, no trial lost or run twice', async () => {
    const args = ['run', '--space', writeSpace(dir, { sleepMs: 300 }), '--study', 'pg', '--trials', '10', '--workers', '2', ...commonArgs(dir, pg.url)];
    const a = cli(args);
    const b = cli(args);
    expect(await until(() => execLines(dir).length >= 3, 180_000)).toBe(true);
    const before = pg.pid();
    pg.stop();
    await new Promise((r) => setTimeout(r, 3000)); // the drivers keep retrying meanwhile
    pg.start();
    expect(pg.pid()).not.toBe(before);
    expect(await until(() => execLines(dir).length >= 7, 180_000)).toBe(true);
    // A dropped connection: the server ends every session of the study's database.
    const admin = new PostgresStorage(pg.url);
    await admin.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = 'postgres'");
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    for (const r of [ra, rb]) {
      expect(r.stderr).toMatch(/WARN: PostgreSQL storage: lost the connection to postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres/);
      expect(r.stderr).toMatch(/PostgreSQL storage: reconnected to .* after \d+\.\ds/);
    }
    expect(await survivors([...a.seen, ...b.seen], 8000)).toEqual([]);

    const trials = await trialsOf(admin, 'pg');
    expect(tally(trials, 10, dir)).toEqual({ lost: 0, duplicated: 0, repeatedPoints: 0 });
    expect(trials.filter((t) => t.state === TrialState.RUNNING || t.state === TrialState.WAITING)).toEqual([]);
    // Nothing was lost, so nothing needed a retry either.
    expect(trials.length).toBe(10);
    expect(trials.map((t) => t.number)).toEqual(trials.map((_t, i) => i));
    await admin.close();
  }, 360_000);
});
