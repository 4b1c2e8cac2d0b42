/**
 * A real single-node Slurm for the job-array tests (tools/slurm/start.sh: its own munged, slurmctld
 * and slurmd on 127.0.0.1 under a temp folder), stopped after by the pids it started; and the
 * outside views the tests judge by: squeue, scontrol and the tasks' output files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './helpers';

export interface Cluster {
  dir: string;
  env: NodeJS.ProcessEnv;
  stop(): void;
}

export function startCluster(cpus: number): Cluster {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-slurm-')), 'cluster');
  let conf: string;
  try {
    conf = execFileSync('bash', [path.join(REPO, 'tools/slurm/start.sh'), dir, String(cpus)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
  } catch (e) {
    throw new Error(`could not start Slurm with tools/slurm/start.sh: ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
  }
  const env = { ...process.env, SLURM_CONF: conf };
  return {
    dir,
    env,
    stop: () => {
      execFileSync('bash', [path.join(REPO, 'tools/slurm/stop.sh'), dir], { stdio: 'ignore' });
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    },
  };
}

function slurmCmd(c: Cluster, cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { env: c.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** The job's array tasks still queued or running (squeue). */
export function queued(c: Cluster, jobId: string): string[] {
  return slurmCmd(c, 'squeue', ['-h', '-r', '-j', jobId, '-o', '%i']).split('\n').filter(Boolean);
}

/** Each array task's final state and exit code, as the controller reports them (scontrol). */
export function taskStates(c: Cluster, jobId: string): Map<string, { state: string; exitCode: string }> {
  const m = new Map<string, { state: string; exitCode: string }>();
  for (const line of slurmCmd(c, 'scontrol', ['-o', 'show', 'job', jobId]).split('\n').filter(Boolean)) {
    const f = (k: string) => new RegExp(`\\b${k}=(\\S+)`).exec(line)?.[1] ?? '';
    m.set(`${f('ArrayJobId') || f('JobId')}_${f('ArrayTaskId') || '0'}`, { state: f('JobState'), exitCode: f('ExitCode') });
  }
  return m;
}

export function scancel(c: Cluster, task: string): void {
  slurmCmd(c, 'scancel', [task]);
}

/** Polls `until` (not a timer on the work itself) every 250 ms, failing with `what` after `seconds`. */
export async function waitFor<T>(what: string, seconds: number, until: () => Promise<T | null | undefined> | T | null | undefined): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await until();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what} after ${seconds}s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
