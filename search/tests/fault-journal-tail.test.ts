// Fault: the journal's last line is torn (the driver was killed in the middle of writing it). The
// next run loads it with one warning, repairs it, reaps the trial whose end was lost and runs it
// again; the real optuna reads the repaired journal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JournalStorage } from '../src/storages/journal';
import { TrialState } from '../src/study/trial-types';
import { cli, commonArgs, optunaStudies, survivors, tally, trialsOf, writeSpace } from './fault-helpers';
import { tmpDir } from './helpers';

describe('fault: torn journal tail', () => {
  it('the rerun warns once, repairs the file, and ends with every trial complete, none lost or run twice', async () => {
    const dir = tmpDir('fault-tail');
    const journal = path.join(dir, 's.journal');
    const args = ['run', '--space', writeSpace(dir, { sleepMs: 0 }), '--study', 'j', '--trials', '3', '--workers', '1', ...commonArgs(dir, `journal:${journal}`)];
    expect((await cli(args).done).code).toBe(0);
    // Cut the file in the middle of its last line: the last trial's end ("COMPLETE") is lost.
    const text = fs.readFileSync(journal, 'utf8');
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    expect(JSON.parse(text.slice(lastStart))).toMatchObject({ op_code: 6, state: 1 }); // SET_TRIAL_STATE_VALUES, COMPLETE
    fs.truncateSync(journal, lastStart + Math.floor((text.length - lastStart) / 2));
    const torn = fs.statSync(journal).size;

    const rerun = cli(args);
    const r = await rerun.done;
    expect(r.code).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('WARN:'));
    expect(warnings).toEqual([`WARN: ${journal}: dropping ${torn - lastStart} bytes of a broken last journal line (a writer was killed mid-write)`]);
    expect(await survivors(rerun.seen, 8000)).toEqual([]);
    const trials = await trialsOf(new JournalStorage(journal), 'j');
    expect(tally(trials, 3, dir)).toEqual({ lost: 0, duplicated: 0, repeatedPoints: 0 });
    // The trial whose end was torn off is failed (its driver is gone) and retried.
    expect(trials.map((t) => TrialState[t.state])).toEqual(['COMPLETE', 'COMPLETE', 'FAIL', 'COMPLETE']);
    const py = optunaStudies(journal)[0];
    expect(py.trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'FAIL', 'COMPLETE']);
  }, 300_000);
});
