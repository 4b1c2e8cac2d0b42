/**
 * The sbatch script of `iccl-search slurm`: a job array whose every task is one search driver on the
 * same study (PostgreSQL) and the same tracking server. Written to be read: users may submit it by
 * hand, edit it, or keep it as the record of how a study was run.
 */

export interface SlurmScriptOptions {
  studyName: string;
  /** The storage URL as the drivers get it (a password in it stays in the file: the file is 0600). */
  storage: string;
  /** Tasks in the array (drivers). */
  array: number;
  /** At most this many tasks at once (`--array=0-N%K`). */
  maxRunning?: number;
  /** GPUs per task; 0: the trials run on the CPU, one at a time per task. */
  gpusPerTask: number;
  /** Trials sharing one GPU (the driver's --trials-per-gpu). */
  trialsPerGpu?: number;
  cpusPerTask?: number;
  /** Memory per task, as sbatch takes it (e.g. 32G). */
  mem?: string;
  partition?: string;
  /** Wall time per task, as sbatch takes it (e.g. 24:00:00 or 90 for minutes). */
  time?: string;
  /** Requeue a task Slurm preempts or its node fails. */
  requeue: boolean;
  /** Further `#SBATCH` lines, as given (e.g. --account=lab). */
  sbatchArgs: string[];
  /** Where the tasks start (the folder the command was given in). */
  workDir: string;
  /** Where this script is kept (beside the study's trial folders). */
  scriptFile: string;
  /** Folder of the tasks' output files. */
  logDir: string;
  /** The driver: node, its flags, the command-line file. */
  driver: string[];
  /** Arguments of `run` after the storage (space, study, budget, tracking ...). */
  runArgs: string[];
  /** Seconds a task with nothing left to claim waits between looks at the others' trials. */
  waitForOthersSeconds: number;
  /** Environment the tasks need (MLFLOW_TRACKING_URI). */
  env: Record<string, string>;
}

/** A word as the shell reads it back unchanged. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_/.:=@,+%^-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The storage URL with its password hidden, for comments and messages. */
export function maskPassword(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@/]*@/, '$1***@');
}

function sbatchLines(o: SlurmScriptOptions): string[] {
  const lines = [`--job-name=iccl-${o.studyName}`, `--array=0-${o.array - 1}${o.maxRunning ? `%${o.maxRunning}` : ''}`, '--ntasks=1'];
  if (o.gpusPerTask > 0) lines.push(`--gres=gpu:${o.gpusPerTask}`);
  if (o.cpusPerTask) lines.push(`--cpus-per-task=${o.cpusPerTask}`);
  if (o.mem) lines.push(`--mem=${o.mem}`);
  if (o.partition) lines.push(`--partition=${o.partition}`);
  if (o.time) lines.push(`--time=${o.time}`);
  lines.push(o.requeue ? '--requeue' : '--no-requeue');
  lines.push(`--output=${o.logDir}/%A_%a.out`, `--chdir=${o.workDir}`);
  return [...lines, ...o.sbatchArgs].map((l) => `#SBATCH ${l}`);
}

/** The device flags of each task: Slurm's GPUs (CUDA_VISIBLE_DEVICES), else one CPU trial at a time. */
function deviceArgs(o: SlurmScriptOptions): string[] {
  if (o.gpusPerTask === 0) return ['--device', 'cpu', '--workers', '1'];
  const perGpu = o.trialsPerGpu ?? 1;
  const args = ['--device', 'gpu', ...(perGpu > 1 ? ['--trials-per-gpu', String(perGpu)] : [])];
  // Image decoding on the task's own CPUs, shared by its trials (not on every core of the node).
  if (o.cpusPerTask) args.push('--decode-workers', String(Math.max(1, Math.floor(o.cpusPerTask / (o.gpusPerTask * perGpu)))));
  return args;
}

/** One `--flag value` (or lone `--flag`) per line. */
function flagLines(args: string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith('-')) {
      lines.push(`${shellQuote(args[i]!)} ${shellQuote(next)}`);
      i++;
    } else {
      lines.push(shellQuote(args[i]!));
    }
  }
  return lines;
}

export function renderSbatchScript(o: SlurmScriptOptions): string {
  const args = ['--storage', o.storage, ...o.runArgs, ...deviceArgs(o), '--wait-for-others', String(o.waitForOthersSeconds), '--no-report'];
  const run = [`${o.driver.map(shellQuote).join(' ')} run`, ...flagLines(args)];
  const perTask = o.gpusPerTask > 0 ? `${o.trialsPerGpu && o.trialsPerGpu > 1 ? `${o.trialsPerGpu} trials` : 'one trial'} on each GPU Slurm gives it (--gres=gpu:${o.gpusPerTask})` : 'one trial at a time on its CPUs';
  return [
    '#!/bin/bash',
    `# Written by \`iccl-search slurm\` for study "${o.studyName}" in ${maskPassword(o.storage)}.`,
    `# Each of the ${o.array} array tasks is one search driver on that study: it claims trials until the`,
    `# budget is claimed, ${perTask}, then stays while other tasks' trials run,`,
    '# to take over the retry of one that is lost (scancel, time limit, preemption), and leaves.',
    '# A task stopped by Slurm gets SIGTERM: its running trial ends as interrupted and is retried by',
    '# another task (or by this one, requeued) from its last checkpoint; no trial is lost or finished twice.',
    `# Submit by hand: sbatch ${shellQuote(o.scriptFile)}`,
    ...sbatchLines(o),
    '',
    'set -euo pipefail',
    ...Object.entries(o.env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    'echo "[slurm] task ${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID:-0} on $(hostname): GPUs ${CUDA_VISIBLE_DEVICES:-none}, CPUs ${SLURM_CPUS_ON_NODE:-?}" >&2',
    // exec: the driver is the task's main process, so Slurm's signals reach it with nothing in between.
    `exec ${run.join(' \\\n  ')}`,
    '',
  ].join('\n');
}
