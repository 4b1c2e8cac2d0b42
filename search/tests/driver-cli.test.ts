import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ATTR } from '../src/driver/run-study';
import { JournalStorage } from '../src/storages/journal';
import { PostgresStorage } from '../src/storages/postgres';
import type { Storage } from '../src/storages/base';
import { TrialState, type FrozenTrial } from '../src/study/trial-types';
import { FIXTURES, freshPgDatabase, python, REPO, tmpDir } from './helpers';

const CLI = path.join(REPO, 'search/src/driver/cli.ts');

function writeSpace(dir: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'space.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'cli-test',
      plugin: path.join(FIXTURES, 'test-plugin.ts'),
      fixed: { epochs: 3, sleepMs: 150, logDir: dir, mode: 'ok' },
      params: { x: { type: 'float', low: -2, high: 2 } },
      objectives: [{ metric: 'loss', direction: 'minimize' }],
      sampler: { name: 'random', seed: 0 },
      pruner: { name: 'nop' },
      ...extra,
    }),
  );
  return file;
}

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}
function cli(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', () => undefined);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

/** Waits (by polling a file, not by timing) until `n` trials have started. */
async function startedAtLeast(dir: string, n: number, run: Run): Promise<void> {
  for (;;) {
    const log = path.join(dir, 'exec.log');
    if (fs.existsSync(log) && fs.readFileSync(log, 'utf8').trim().split('\n').length >= n) return;
    if (run.child.exitCode !== null) throw new Error(`driver exited early: ${(await run.done).stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function execCounts(dir: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const line of fs.readFileSync(path.join(dir, 'exec.log'), 'utf8').trim().split('\n')) {
    const n = Number(line.split(' ')[0]);
    m.set(n, (m.get(n) ?? 0) + 1);
  }
  return m;
}

/** Trials counted against the budget: all but the failed ones a retry replaced. */
function settled(trials: FrozenTrial[]): FrozenTrial[] {
  const replaced = new Set(trials.map((t) => t.systemAttrs[ATTR.retriedFrom]).filter((n) => n !== undefined));
  return trials.filter((t) => !replaced.has(t.number));
}

async function trialsOf(storage: Storage, study: string): Promise<FrozenTrial[]> {
  return storage.getAllTrials(await storage.getStudyIdFromName(study));
}

const common = (dir: string, storage: string) => ['--storage', storage, '--tracking', 'none', '--runs-dir', path.join(dir, 'runs'), '--reports-dir', path.join(dir, 'reports')];

describe('CLI driver', () => {
  it('resumes after the driver is killed with SIGKILL mid-study: no trial lost or duplicated', async () => {
    const dir = tmpDir('kill');
    const space = writeSpace(dir);
    const journal = path.join(dir, 's.journal');
    const args = ['run', '--space', space, '--study', 'k', '--trials', '8', '--workers', '2', ...common(dir, `journal:${journal}`)];
    const first = cli(args);
    await startedAtLeast(dir, 4, first);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const second = cli(args);
    const r = await second.done;
    expect(r.code).toBe(0);
    // 4 starts on 2 workers: at least 2 trials had finished before the kill
    expect(r.stderr).toMatch(/resuming: [2-7] trial\(s\) already done/);
    const s = new JournalStorage(journal);
    const trials = await trialsOf(s, 'k');
    const final = settled(trials);
    expect(final.length).toBe(8);
    expect(final.every((t) => t.state === TrialState.COMPLETE)).toBe(true);
    // Trials that were running when the driver died are failed with the reason and retried once.
    const lost = trials.filter((t) => t.state === TrialState.FAIL);
    expect(lost.length).toBeGreaterThan(0);
    for (const t of lost) {
      expect(String(t.systemAttrs[ATTR.failReason])).toMatch(/^worker lost: driver process \d+ on .* is gone$/);
      const retries = trials.filter((x) => x.systemAttrs[ATTR.retriedFrom] === t.number);
      expect(retries.length).toBe(1);
      expect(retries[0].params).toEqual(t.params);
    }
    // Each trial number ran at most once (a retry is a new number), and every complete one ran.
    const counts = execCounts(dir);
    for (const t of trials) expect(counts.get(t.number) ?? 0).toBeLessThanOrEqual(1);
    for (const t of final) expect(counts.get(t.number)).toBe(1);
    expect(fs.existsSync(path.join(dir, 'reports', 'k', 'index.html'))).toBe(true);
    const py = JSON.parse(python('optuna_read.py', [journal, 'symlink'])) as { trials: { state: string }[] }[];
    expect(py[0].trials.length).toBe(trials.length);
  }, 120_000);

  it('stops cleanly on Ctrl-C (SIGINT): running trials end as failed with a queued retry, and a re-run finishes the study', async () => {
    const dir = tmpDir('sigint');
    const space = writeSpace(dir, { fixed: { epochs: 20, sleepMs: 100, logDir: dir, mode: 'ok' } });
    const journal = path.join(dir, 's.journal');
    const args = ['run', '--space', space, '--study', 'i', '--trials', '4', '--workers', '2', '--no-report', ...common(dir, `journal:${journal}`)];
    const first = cli(args);
    await startedAtLeast(dir, 2, first);
    first.child.kill('SIGINT');
    const r1 = await first.done;
    expect(r1.code).toBe(130);
    expect(r1.stderr).toContain('interrupted: run the same command again to resume study "i"');
    const s = new JournalStorage(journal);
    let trials = await trialsOf(s, 'i');
    expect(trials.filter((t) => t.state === TrialState.RUNNING)).toEqual([]);
    const interrupted = trials.filter((t) => t.state === TrialState.FAIL);
    expect(interrupted.length).toBe(2);
    for (const t of interrupted) expect(t.systemAttrs[ATTR.failReason]).toBe('interrupted by the user');
    expect(trials.filter((t) => t.state === TrialState.WAITING).length).toBe(2);
    const r2 = await cli(args).done;
    expect(r2.code).toBe(0);
    trials = await trialsOf(s, 'i');
    expect(settled(trials).map((t) => TrialState[t.state])).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE']);
  }, 120_000);

  it('refuses a study name that exists with another search space, with one line saying what to do', async () => {
    const dir = tmpDir('other');
    const journal = `journal:${path.join(dir, 's.journal')}`;
    const a = writeSpace(dir, { fixed: { epochs: 1, logDir: dir } });
    expect((await cli(['run', '--space', a, '--study', 'same', '--trials', '1', '--no-report', ...common(dir, journal)]).done).code).toBe(0);
    // list and report on that storage
    const list = cli(['list', '--storage', journal]);
    let out = '';
    list.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    expect((await list.done).code).toBe(0);
    expect(out).toBe('same\tminimize\t1 trials (1 complete, 0 pruned, 0 failed, 0 running, 0 waiting)\n');
    expect((await cli(['report', '--study', 'same', '--storage', journal, '--out', path.join(dir, 'rep')]).done).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'rep', 'index.html'), 'utf8')).toContain('<h1>Study same</h1>');
    expect(fs.readFileSync(path.join(dir, 'rep', 'trials.csv'), 'utf8').trim().split('\n').length).toBe(2);
    const b = writeSpace(dir, { fixed: { epochs: 1, logDir: dir }, params: { x: { type: 'float', low: 0, high: 1 } } });
    const r = await cli(['run', '--space', b, '--study', 'same', '--trials', '1', '--no-report', ...common(dir, journal)]).done;
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^error: study "same" already exists in this storage with another search space .*: pass --study NEW_NAME to start a new study/);
    const bad = await cli(['run', '--space', path.join(dir, 'nope.json'), ...common(dir, journal)]).done;
    expect(bad.stderr.trim()).toBe(`error: ${path.join(dir, 'nope.json')}: search-space file not found (also looked in ${path.join(REPO, 'search-spaces')})`);
  }, 60_000);

  it.each(['postgresql', 'journal'])('shares one study between two driver processes (%s; as if on two hosts for PostgreSQL)', async (kind) => {
    const dir = tmpDir('two');
    const url = kind === 'postgresql' ? await freshPgDatabase('drivers') : `journal:${path.join(dir, 's.journal')}`;
    const space = writeSpace(dir, { fixed: { epochs: 2, sleepMs: 50, logDir: dir, mode: 'ok' } });
    const args = ['run', '--space', space, '--study', 'shared', '--trials', '12', '--workers', '2', '--no-report', ...common(dir, url)];
    const [a, b] = await Promise.all([cli(args).done, cli(args).done]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const s = kind === 'postgresql' ? new PostgresStorage(url) : new JournalStorage(url.slice('journal:'.length));
    const trials = await trialsOf(s, 'shared');
    // The budget is claimed atomically in the storage: exactly --trials, each run exactly once.
    expect(trials.length).toBe(12);
    // Both drivers have the same seed, yet no two trials drew the same point.
    expect(new Set(trials.map((t) => t.params.x)).size).toBe(12);
    expect(trials.every((t) => t.state === TrialState.COMPLETE)).toBe(true);
    expect(trials.map((t) => t.number)).toEqual(trials.map((_t, i) => i));
    const counts = execCounts(dir);
    expect([...counts.keys()].sort((x, y) => x - y)).toEqual(trials.map((t) => t.number));
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    // Both drivers took part.
    expect(new Set(trials.map((t) => t.systemAttrs[ATTR.driverId])).size).toBe(2);
    await s.close();
  }, 120_000);
});
