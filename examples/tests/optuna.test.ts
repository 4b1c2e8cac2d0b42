import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const PY = path.join(ROOT, '.venv/bin/python');

jest.setTimeout(900_000);

describe('Python Optuna drives the ICCL plugin through the trial protocol', () => {
  it('prunes at least one trial, keeps its checkpoint, and reports the best value', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ex-optuna-'));
    const journal = path.join(dir, 'optuna.journal');
    const runner = `${process.execPath} --import tsx ${path.join(ROOT, 'plugins/runner/src/cli.ts')}`;
    const r = spawnSync(PY, [path.join(ROOT, 'examples/optuna/optuna_iccl.py'), '--trials', '3', '--runner', runner, '--storage', journal, '--work-dir', path.join(dir, 'work')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 840_000,
    });
    if (r.status !== 0) throw new Error(`optuna example exited ${r.status}:\n${(r.stderr ?? '').split('\n').slice(-30).join('\n')}`);
    const printed = /best value \(val\/top1\): ([\d.]+) with/.exec(r.stdout);
    expect(printed).not.toBeNull();

    // Judged from the outside: the study as Optuna reads it back from the journal.
    const py = [
      'import json, sys, optuna',
      'from optuna.storages.journal import JournalStorage, JournalFileBackend',
      's = optuna.load_study(study_name="iccl-from-optuna", storage=JournalStorage(JournalFileBackend(sys.argv[1])))',
      'print(json.dumps({"best": s.best_value, "trials": [{"state": t.state.name, "value": t.value, "steps": sorted(t.intermediate_values), "attrs": t.user_attrs} for t in s.trials]}))',
    ].join('\n');
    const q = spawnSync(PY, ['-c', py, journal], { encoding: 'utf8' });
    if (q.status !== 0) throw new Error(q.stderr);
    const study = JSON.parse(q.stdout) as { best: number; trials: Array<{ state: string; value: number | null; steps: number[]; attrs: Record<string, string> }> };
    expect(study.trials).toHaveLength(3);
    const pruned = study.trials.filter((t) => t.state === 'PRUNED');
    const complete = study.trials.filter((t) => t.state === 'COMPLETE');
    expect(pruned.length).toBeGreaterThanOrEqual(1);
    expect(complete.length).toBeGreaterThanOrEqual(1);
    expect(Number(printed![1])).toBeCloseTo(study.best, 10);
    expect(study.best).toBe(Math.max(...complete.map((t) => t.value!)));
    for (const t of complete) expect(t.steps).toEqual([1, 2, 3]);
    for (const t of pruned) {
      // Stopped at a report, with that epoch's checkpoint kept on disk.
      expect(t.steps.length).toBeGreaterThanOrEqual(1);
      expect(fs.existsSync(path.join(t.attrs.checkpoint!, 'model.json'))).toBe(true);
    }
  });

  it('--prune-by-signal: SIGUSR2 to the pid of hello prunes a trial started through launchers (npx, then tsx, then the trial)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ex-optuna-sig-'));
    const journal = path.join(dir, 'optuna.journal');
    // npx runs tsx, whose command line starts the runner in a child process of its own: the pid Popen gets is npm's.
    const runner = `npx tsx ${path.join(ROOT, 'plugins/runner/src/cli.ts')}`;
    const r = spawnSync(PY, [path.join(ROOT, 'examples/optuna/optuna_iccl.py'), '--trials', '2', '--prune-by-signal', '--runner', runner, '--storage', journal, '--work-dir', path.join(dir, 'work')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 840_000,
    });
    if (r.status !== 0) throw new Error(`optuna example exited ${r.status}:\n${(r.stderr ?? '').split('\n').slice(-30).join('\n')}`);
    expect(r.stderr).not.toContain('Debugger listening');
    const py = [
      'import json, sys, optuna',
      'from optuna.storages.journal import JournalStorage, JournalFileBackend',
      's = optuna.load_study(study_name="iccl-from-optuna", storage=JournalStorage(JournalFileBackend(sys.argv[1])))',
      'print(json.dumps([[t.state.name, sorted(t.intermediate_values)] for t in s.trials]))',
    ].join('\n');
    const q = spawnSync(PY, ['-c', py, journal], { encoding: 'utf8' });
    if (q.status !== 0) throw new Error(q.stderr);
    // The first (enqueued, lr 0.1) runs its three epochs; the second (lr 1e-5) is below the median at its
    // first report, gets SIGUSR2 then, and stops at its next report.
    expect(JSON.parse(q.stdout)).toEqual([['COMPLETE', [1, 2, 3]], ['PRUNED', [1, 2]]]);
  });
});
