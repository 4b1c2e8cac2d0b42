/**
 * `iccl-search slurm` on a real single-node Slurm (tools/slurm/start.sh): job arrays of drivers on one
 * PostgreSQL study of the toy plugin, judged from outside: the study's rows in PostgreSQL, the tasks'
 * states in scontrol/squeue, and the tasks' output files.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PostgresStorage } from '../src/storages/postgres';
import { ATTR } from '../src/driver/attrs';
import { StudyNotFoundError } from '../src/storages/base';
import { TrialState, type FrozenTrial } from '../src/study/trial-types';
import { freshPgDatabase, REPO, tmpDir } from './helpers';
import { queued, scancel, startCluster, taskStates, waitFor, type Cluster } from './slurm-cluster';

const CLI = path.join(REPO, 'search/src/driver/cli.ts');
const TSX = require.resolve('tsx', { paths: [REPO] });

let cluster: Cluster;
beforeAll(() => {
  cluster = startCluster(3);
}, 60_000);
afterAll(() => cluster?.stop());

/** `iccl-search ARGS` from a folder outside the repository, as a user on the login node runs it. */
function iccl(cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', `file://${TSX}`, CLI, ...args], {
    cwd,
    env: { ...cluster.env, TSX_TSCONFIG_PATH: path.join(REPO, 'tsconfig.json') },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Study {
  cwd: string;
  url: string;
  name: string;
}

async function newStudy(name: string): Promise<Study> {
  return { cwd: tmpDir(`slurm-${name}`), url: await freshPgDatabase(`slurm_${name}`), name };
}

/** Submits the toy study as a job array; returns the job id sbatch gave. */
function submit(s: Study, array: number, trials: number, epochs: number, sleepMs: number, extra: string[] = []): string {
  const r = iccl(s.cwd, [
    'slurm', '--space', 'toy', '--study', s.name, '--storage', s.url, '--array', String(array), '--gpus-per-task', '0',
    '--trials', String(trials), '--retries', '1', '--tracking', 'none', '--sampler', 'random:seed=7', '--pruner', 'nop',
    '--set', `epochs=${epochs}`, '--set', `sleepMs=${sleepMs}`, '--heartbeat', '2', '--wait-for-others', '1', ...extra,
  ]);
  if (r.status !== 0) throw new Error(`iccl-search slurm failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

async function trialsOf(s: Study): Promise<FrozenTrial[]> {
  const storage = new PostgresStorage(s.url);
  try {
    return await storage.getAllTrials(await storage.getStudyIdFromName(s.name));
  } catch (e) {
    if (e instanceof StudyNotFoundError) return []; // the tasks have not created it yet
    throw e;
  } finally {
    await storage.close();
  }
}

async function allTasksEnded(c: Cluster, jobIds: string[], seconds: number): Promise<void> {
  await waitFor(`job ${jobIds.join(',')} to end`, seconds, () => jobIds.every((id) => queued(c, id).length === 0));
}

/**
 * Every one of the `n` sampled trials completed exactly once: n COMPLETE rows with n different
 * parameter sets, every failed attempt replaced by exactly one retry of the same parameters, nothing
 * left running or waiting.
 */
function expectEachTrialOnce(trials: FrozenTrial[], n: number): void {
  const complete = trials.filter((t) => t.state === TrialState.COMPLETE);
  const key = (t: FrozenTrial) => JSON.stringify(Object.entries(t.params).sort());
  expect(complete).toHaveLength(n);
  expect(new Set(complete.map(key)).size).toBe(n);
  expect(trials.filter((t) => t.state === TrialState.RUNNING || t.state === TrialState.WAITING)).toEqual([]);
  for (const failed of trials.filter((t) => t.state === TrialState.FAIL)) {
    const retries = trials.filter((t) => t.systemAttrs[ATTR.retriedFrom] === failed.number);
    expect(retries.map((r) => [r.state, key(r)])).toEqual([[TrialState.COMPLETE, key(failed)]]);
  }
}

function taskLog(s: Study, task: string): string {
  return fs.readFileSync(path.join(s.cwd, 'runs', s.name, 'slurm', 'logs', `${task}.out`), 'utf8');
}

describe('iccl-search slurm: a study as a job array on a real Slurm', () => {
  it('an array of 3 tasks runs a toy study of 9 trials, every trial exactly once, and status shows the tasks beside the trials', async () => {
    const s = await newStudy('array');
    const job = submit(s, 3, 9, 3, 300);
    expect(job).toMatch(/^\d+$/);
    expect(fs.readFileSync(path.join(s.cwd, 'runs/array/slurm/array.sbatch'), 'utf8')).toContain('#SBATCH --array=0-2');
    await allTasksEnded(cluster, [job], 150);
    const trials = await trialsOf(s);
    expectEachTrialOnce(trials, 9);
    expect(trials).toHaveLength(9);
    const states = taskStates(cluster, job);
    expect([...states.entries()].sort()).toEqual([0, 1, 2].map((i) => [`${job}_${i}`, { state: 'COMPLETED', exitCode: '0:0' }]));
    // Every trial names the task that ran it, one of the array's.
    for (const t of trials) expect([`${job}_0`, `${job}_1`, `${job}_2`]).toContain(t.systemAttrs[ATTR.slurmTask]);
    for (const i of [0, 1, 2]) expect(taskLog(s, `${job}_${i}`)).toContain(`[slurm] task ${job}_${i} on `);
    const status = iccl(s.cwd, ['slurm', 'status', '--study', s.name, '--storage', s.url]);
    expect(status.status).toBe(0);
    expect(status.stdout).toContain('study "array": 9 trials (9 complete, 0 pruned, 0 failed, 0 running, 0 waiting)');
    for (const i of [0, 1, 2]) {
      const ran = trials.filter((t) => t.systemAttrs[ATTR.slurmTask] === `${job}_${i}`).map((t) => `${t.number}:COMPLETE`);
      expect(status.stdout).toMatch(new RegExp(`^${job}_${i}\\s+COMPLETED\\s.*iccl1\\s*${ran.join(' ')}$`, 'm'));
    }
  }, 180_000);

  it('a task cancelled mid-trial (scancel) loses nothing: its trial is retried by another task and finishes; no trial runs twice', async () => {
    const s = await newStudy('cancel');
    const job = submit(s, 3, 9, 8, 500);
    const victim = `${job}_1`;
    // Mid-trial: task 1 runs a trial that has reported at least one epoch.
    const hit = await waitFor(`a trial of ${victim} past its first report`, 120, async () =>
      (await trialsOf(s)).find((t) => t.state === TrialState.RUNNING && t.systemAttrs[ATTR.slurmTask] === victim && t.intermediateValues.size >= 1),
    );
    scancel(cluster, victim);
    await allTasksEnded(cluster, [job], 180);
    const trials = await trialsOf(s);
    expectEachTrialOnce(trials, 9);
    const lost = trials.find((t) => t.number === hit.number)!;
    expect(lost.state).toBe(TrialState.FAIL);
    const retry = trials.find((t) => t.systemAttrs[ATTR.retriedFrom] === hit.number)!;
    expect(retry.systemAttrs[ATTR.slurmTask]).not.toBe(victim);
    // An interrupt is not a crash: the retry does not count against the study's retries.
    expect(retry.systemAttrs[ATTR.retryCount]).toBe(0);
    expect(taskStates(cluster, job).get(victim)?.state).toBe('CANCELLED');
    expect(taskLog(s, victim)).toMatch(/interrupted|stopping/);
  }, 240_000);

  it('a task that hits its time limit loses nothing either: its trial is retried by a task still running', async () => {
    const s = await newStudy('timeout');
    // One task with a 1-minute limit and one without, on the same study; trials of ~12 s, enough for both past the limit.
    const short = submit(s, 1, 14, 12, 1000, ['--time', '1']);
    const long = submit(s, 1, 14, 12, 1000);
    await allTasksEnded(cluster, [short, long], 300);
    expect(taskStates(cluster, short).get(`${short}_0`)?.state).toBe('TIMEOUT');
    expect(taskStates(cluster, long).get(`${long}_0`)).toEqual({ state: 'COMPLETED', exitCode: '0:0' });
    const trials = await trialsOf(s);
    expectEachTrialOnce(trials, 14);
    const cut = trials.filter((t) => t.state === TrialState.FAIL);
    expect(cut).toHaveLength(1);
    expect(cut[0]!.systemAttrs[ATTR.slurmTask]).toBe(`${short}_0`);
    // No count of its reports: Slurm enforces the limit on its own clock (checked about every 30 s), and a
    // trial's first report comes a second or two after its start (process start, one 1 s epoch), so a run
    // can cut a trial that has not reported yet; that is still a trial cut mid-run, and retried.
    expect(trials.find((t) => t.systemAttrs[ATTR.retriedFrom] === cut[0]!.number)!.systemAttrs[ATTR.slurmTask]).toBe(`${long}_0`);
  }, 360_000);
});
