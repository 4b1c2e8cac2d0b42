/**
 * `iccl-search slurm status`: the study's Slurm tasks (from scontrol, or sacct once the controller
 * has forgotten them) next to the trials each ran, read from the study's storage.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Storage } from '../storages/base';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import { ATTR } from './attrs';
import { slurmPaths } from './slurm-submit';

export interface SlurmTask {
  /** JOBID_TASK (or JOBID_[2-5] for pending tasks Slurm keeps as one record). */
  task: string;
  state: string;
  elapsed: string;
  node: string;
}

/** `scontrol -o show job ID`: one line of key=value fields per job record. */
export function parseScontrol(text: string): SlurmTask[] {
  const tasks: SlurmTask[] = [];
  for (const line of text.split('\n').filter((l) => l.includes('JobId='))) {
    const f = new Map<string, string>();
    for (const m of line.matchAll(/(\w+)=(\S*)/g)) if (!f.has(m[1]!)) f.set(m[1]!, m[2]!);
    const arrayId = f.get('ArrayJobId');
    const taskId = f.get('ArrayTaskId');
    const task = arrayId && taskId ? (/^\d+$/.test(taskId) ? `${arrayId}_${taskId}` : `${arrayId}_[${taskId}]`) : f.get('JobId')!;
    const node = f.get('NodeList');
    tasks.push({ task, state: f.get('JobState') ?? '?', elapsed: f.get('RunTime') ?? '-', node: node && node !== '(null)' ? node : '-' });
  }
  return tasks;
}

/** `sacct -n -P -X -o JobID,State,Elapsed,NodeList`. */
export function parseSacct(text: string): SlurmTask[] {
  return text
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const [task, state, elapsed, node] = l.split('|');
      return { task: task!, state: state!.split(' ')[0]!, elapsed: elapsed || '-', node: node || '-' };
    });
}

/** The tasks of these jobs, as the controller knows them, else as accounting recorded them. */
export function querySlurmTasks(jobIds: string[]): { tasks: SlurmTask[]; notes: string[] } {
  const tasks: SlurmTask[] = [];
  const notes: string[] = [];
  for (const id of jobIds) {
    const sc = spawnSync('scontrol', ['-o', 'show', 'job', id], { encoding: 'utf8' });
    if (sc.status === 0 && sc.stdout.includes('JobId=')) {
      tasks.push(...parseScontrol(sc.stdout));
      continue;
    }
    const sa = spawnSync('sacct', ['-n', '-P', '-X', '-j', id, '-o', 'JobID,State,Elapsed,NodeList'], { encoding: 'utf8' });
    if (sa.status === 0 && sa.stdout.trim()) tasks.push(...parseSacct(sa.stdout));
    else notes.push(`job ${id}: neither scontrol nor sacct knows it (${(sc.error?.message ?? sc.stderr ?? '').trim() || 'ended too long ago'})`);
  }
  return { tasks, notes };
}

/** Job ids of a study: those `iccl-search slurm` submitted from here, and those its trials name. */
export function studyJobIds(trials: FrozenTrial[], jobsFile: string): string[] {
  const ids = new Set<string>();
  if (fs.existsSync(jobsFile)) for (const l of fs.readFileSync(jobsFile, 'utf8').split('\n')) if (l.trim()) ids.add(l.split('\t')[0]!);
  for (const t of trials) {
    const task = t.systemAttrs[ATTR.slurmTask];
    if (typeof task === 'string') ids.add(task.split('_')[0]!);
  }
  return [...ids].sort((a, b) => Number(a) - Number(b));
}

function trialWord(t: FrozenTrial, retriedBy: Map<number, number>): string {
  const retry = retriedBy.get(t.number);
  return `${t.number}:${TrialState[t.state]}${retry === undefined ? '' : `->${retry}`}`;
}

/** The table: one row per task, its trials (n:STATE, ->m when trial m retried it), then the study's totals. */
export function formatSlurmStatus(studyName: string, tasks: SlurmTask[], trials: FrozenTrial[]): string {
  const retriedBy = new Map<number, number>();
  for (const t of trials) if (t.systemAttrs[ATTR.retriedFrom] !== undefined) retriedBy.set(Number(t.systemAttrs[ATTR.retriedFrom]), t.number);
  const byTask = new Map<string, FrozenTrial[]>();
  for (const t of trials) {
    const k = String(t.systemAttrs[ATTR.slurmTask] ?? '-');
    byTask.set(k, [...(byTask.get(k) ?? []), t]);
  }
  const rows = [['TASK', 'STATE', 'ELAPSED', 'NODE', 'TRIALS']];
  for (const k of tasks) rows.push([k.task, k.state, k.elapsed, k.node, (byTask.get(k.task) ?? []).map((t) => trialWord(t, retriedBy)).join(' ')]);
  const unknown = [...byTask.keys()].filter((k) => k !== '-' && !tasks.some((x) => x.task === k));
  for (const k of unknown) rows.push([k, '(gone)', '-', '-', byTask.get(k)!.map((t) => trialWord(t, retriedBy)).join(' ')]);
  const waiting = byTask.get('-')?.filter((t) => t.state === TrialState.WAITING) ?? [];
  if (waiting.length) rows.push(['(queued)', 'WAITING', '-', '-', waiting.map((t) => trialWord(t, retriedBy)).join(' ')]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const count = (s: TrialState) => trials.filter((t) => t.state === s).length;
  const totals = `study "${studyName}": ${trials.length} trials (${count(TrialState.COMPLETE)} complete, ${count(TrialState.PRUNED)} pruned, ${count(TrialState.FAIL)} failed, ${count(TrialState.RUNNING)} running, ${count(TrialState.WAITING)} waiting)`;
  return [totals, ...table].join('\n') + '\n';
}

export async function cmdSlurmStatus(o: { study: string; runsDir: string }, storage: Storage, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const id = await storage.getStudyIdFromName(o.study);
  const trials = await storage.getAllTrials(id);
  const jobs = studyJobIds(trials, slurmPaths(o.runsDir, o.study).jobs);
  const { tasks, notes } = querySlurmTasks(jobs);
  out(formatSlurmStatus(o.study, tasks, trials));
  for (const n of notes) process.stderr.write(`slurm: ${n}\n`);
  return 0;
}
