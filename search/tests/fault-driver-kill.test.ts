// Fault: the driver is killed with SIGKILL while trials run. Judged from outside: which of its
// processes are left (by pid), the journal's rows (and the real optuna reading them), and which
// trials the plugin actually executed.
import * as path from 'node:path';
import { JournalStorage } from '../src/storages/journal';
import { TrialState } from '../src/study/trial-types';
import { ATTR } from '../src/driver/attrs';
import { cli, commonArgs, descendants, optunaStudies, sampledParams, settled, startedAtLeast, survivors, tally, trialProcesses, trialsOf, until, writeSpace } from './fault-helpers';
import { tmpDir } from './helpers';

describe('fault: driver SIGKILL mid-study (journal)', () => {
  it('leaves no process behind; the rerun loses and repeats nothing and proposes the points of an uninterrupted study', async () => {
    const dir = tmpDir('fault-kill');
    const journal = path.join(dir, 's.journal');
    const args = ['run', '--space', writeSpace(dir, { sleepMs: 400 }), '--study', 'k', '--trials', '6', '--workers', '2', ...commonArgs(dir, `journal:${journal}`)];
    const first = cli(args);
    await startedAtLeast(dir, 4, first);
    const pid = first.child.pid!;
    expect(await until(() => trialProcesses(pid).length > 0, 10_000)).toBe(true);
    const tree = descendants(pid); // trial processes and the watchdog
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    expect(await survivors([...tree, ...first.seen], 8000)).toEqual([]);

    const second = cli(args);
    const r = await second.done;
    expect(r.code).toBe(0);
    expect(await survivors(second.seen, 8000)).toEqual([]);
    const s = new JournalStorage(journal);
    const trials = await trialsOf(s, 'k');
    expect(tally(trials, 6, dir)).toEqual({ lost: 0, duplicated: 0, repeatedPoints: 0 });
    const lost = trials.filter((t) => t.state === TrialState.FAIL);
    expect(lost.length).toBeGreaterThan(0);
    for (const t of lost) expect(String(t.systemAttrs[ATTR.failReason])).toMatch(/^worker lost: driver process \d+ on .* is gone$/);

    // The same study, never interrupted: the same points (the retries repeat the lost ones).
    const dir2 = tmpDir('fault-kill-ref');
    const journal2 = path.join(dir2, 's.journal');
    const ref = cli(['run', '--space', writeSpace(dir2, { sleepMs: 0 }), '--study', 'k', '--trials', '6', '--workers', '2', ...commonArgs(dir2, `journal:${journal2}`)]);
    expect((await ref.done).code).toBe(0);
    const want = sampledParams(await trialsOf(new JournalStorage(journal2), 'k'));
    expect(sampledParams(trials)).toEqual(want);
    expect(settled(trials).map((t) => t.params).sort((a, b) => Number(a.x) - Number(b.x))).toEqual([...want].sort((a, b) => Number(a.x) - Number(b.x)));

    // The real optuna reads every trial, the failed ones and their retries included.
    const py = optunaStudies(journal)[0];
    expect(py.trials.map((t) => t.state)).toEqual(trials.map((t) => TrialState[t.state]));
    await s.close();
  }, 360_000);

  it('also ends a trial process whose event loop is blocked (stuck in native code), by its watchdog', async () => {
    const dir = tmpDir('fault-kill-block');
    const args = ['run', '--space', writeSpace(dir, { mode: 'block' }), '--study', 'b', '--trials', '1', '--workers', '1', ...commonArgs(dir, `journal:${path.join(dir, 's.journal')}`)];
    const run = cli(args);
    await startedAtLeast(dir, 1, run);
    const pid = run.child.pid!;
    const stuck = trialProcesses(pid);
    expect(stuck.length).toBe(1);
    const tree = descendants(pid);
    run.child.kill('SIGKILL');
    await run.done;
    expect(await survivors([...tree, ...run.seen], 8000)).toEqual([]);
  }, 300_000);
});
