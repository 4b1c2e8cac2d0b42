// Fault: one trial process is killed with SIGKILL mid-trial (as the OOM killer would). The driver
// fails that attempt with the reason and runs it again; nothing is lost or run twice beyond that
// retry, and no process is left when the driver ends.
import * as path from 'node:path';
import { JournalStorage } from '../src/storages/journal';
import { TrialState } from '../src/study/trial-types';
import { ATTR } from '../src/driver/attrs';
import { cli, commonArgs, execLines, optunaStudies, survivors, tally, trialProcesses, trialsOf, until, writeSpace } from './fault-helpers';
import { tmpDir } from './helpers';

describe('fault: trial-process SIGKILL (journal)', () => {
  it('fails the attempt with the reason, retries it once, and leaves no process behind', async () => {
    const dir = tmpDir('fault-trial');
    const journal = path.join(dir, 's.journal');
    const run = cli(['run', '--space', writeSpace(dir, { sleepMs: 500 }), '--study', 't', '--trials', '3', '--workers', '1', ...commonArgs(dir, `journal:${journal}`)]);
    // The first trial is training (it logged its start): kill its process.
    expect(await until(() => execLines(dir).length >= 1 && trialProcesses(run.child.pid!).length === 1, 180_000)).toBe(true);
    const [victim] = trialProcesses(run.child.pid!);
    process.kill(victim, 'SIGKILL');
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(await survivors(run.seen, 8000)).toEqual([]);

    const s = new JournalStorage(journal);
    const trials = await trialsOf(s, 't');
    // The killed attempt ran once; its retry is a new trial number: nothing ran twice.
    expect(tally(trials, 3, dir)).toEqual({ lost: 0, duplicated: 0, repeatedPoints: 0 });
    const failed = trials.filter((t) => t.state === TrialState.FAIL);
    expect(failed.length).toBe(1);
    expect(failed[0].systemAttrs[ATTR.failReason]).toBe('trial process exited (signal SIGKILL) without a result');
    const retry = trials.filter((t) => t.systemAttrs[ATTR.retriedFrom] === failed[0].number);
    expect(retry.map((t) => [TrialState[t.state], t.params])).toEqual([['COMPLETE', failed[0].params]]);
    expect(optunaStudies(journal)[0].trials.map((t) => t.state)).toEqual(trials.map((t) => TrialState[t.state]));
    await s.close();
  }, 300_000);
});
