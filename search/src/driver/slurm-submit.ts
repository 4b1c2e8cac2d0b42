/**
 * `iccl-search slurm`: writes the sbatch script of a job array of drivers on one study (slurm-script.ts),
 * keeps it beside the study's trial folders (runs/<study>/slurm/), prints it or submits it with sbatch.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAssignment } from '@iccl/trainer-api';
import { loadSearchSpace } from '../spaces/load';
import { assetsRoot } from '../package-paths';
import { maskPassword, renderSbatchScript, type SlurmScriptOptions } from './slurm-script';

export interface SlurmSubmitOpts {
  space: string;
  configuration?: string;
  study?: string;
  storage: string;
  array: number;
  maxRunning?: number;
  gpusPerTask: number;
  trialsPerGpu?: number;
  cpusPerTask?: number;
  mem?: string;
  partition?: string;
  time?: string;
  requeue: boolean;
  sbatchArg: string[];
  trials?: number;
  retries?: number;
  trialTimeout?: number;
  heartbeat?: number;
  sampler?: string;
  pruner?: string;
  tracking: string;
  set: string[];
  dataDir?: string;
  runsDir: string;
  waitForOthers: number;
  dryRun?: boolean;
}

/** The files of a study's Slurm runs: the script, the tasks' output, the submitted job ids. */
export function slurmPaths(runsDir: string, studyName: string): { dir: string; script: string; logs: string; jobs: string } {
  const dir = path.resolve(runsDir, studyName, 'slurm');
  return { dir, script: path.join(dir, `${studyName}.sbatch`), logs: path.join(dir, 'logs'), jobs: path.join(dir, 'jobs.txt') };
}

/**
 * This command line as the tasks start it: node and the file; from the repository's sources with tsx
 * as loader and the workspace's tsconfig (its paths map the @iccl packages), from any folder.
 */
export function driverCommand(entry = process.argv[1]!): { argv: string[]; env: Record<string, string> } {
  const file = fs.realpathSync(entry);
  if (!file.endsWith('.ts')) return { argv: [process.execPath, file], env: {} };
  const tsx = require.resolve('tsx', { paths: [process.cwd(), __dirname] });
  return { argv: [process.execPath, '--import', `file://${tsx}`, file], env: { TSX_TSCONFIG_PATH: path.join(assetsRoot(), 'tsconfig.json') } };
}

/** Every task must reach the same study and the same runs: refuse what only one machine can see. */
function checkShared(o: SlurmSubmitOpts): Record<string, string> {
  if (!/^postgres(ql)?:\/\//.test(o.storage)) {
    throw new Error(`slurm: --storage must be postgresql://USER@HOST:PORT/DB (got "${o.storage}"): every task, on any node, works on one study there`);
  }
  if (o.tracking === 'mlflow') {
    const uri = process.env.MLFLOW_TRACKING_URI;
    if (!uri) throw new Error('slurm: --tracking mlflow needs one server every task reaches: pass --tracking mlflow:http://HOST:PORT or set MLFLOW_TRACKING_URI');
    return { MLFLOW_TRACKING_URI: uri };
  }
  return {};
}

function runArgs(o: SlurmSubmitOpts, spaceArg: string, studyName: string): string[] {
  const a = ['--space', spaceArg, ...(o.configuration ? ['-c', o.configuration] : []), '--study', studyName, '--tracking', o.tracking];
  const num = (flag: string, v: number | undefined) => (v === undefined ? [] : [flag, String(v)]);
  a.push(...num('--trials', o.trials), ...num('--retries', o.retries), ...num('--trial-timeout', o.trialTimeout), ...num('--heartbeat', o.heartbeat));
  if (o.sampler) a.push('--sampler', o.sampler);
  if (o.pruner) a.push('--pruner', o.pruner);
  if (o.dataDir) a.push('--data-dir', path.resolve(o.dataDir));
  for (const s of o.set) a.push('--set', s);
  a.push('--runs-dir', path.resolve(o.runsDir));
  return a;
}

/** Writes the script (and with --dry-run prints it); else submits it and records the job id. */
export function cmdSlurmSubmit(o: SlurmSubmitOpts, out: (s: string) => void = (s) => process.stdout.write(s), driver = driverCommand()): number {
  const env = { ...checkShared(o), ...driver.env };
  for (const s of o.set) parseAssignment(s);
  const space = loadSearchSpace(o.space, o.configuration, path.join(assetsRoot(), 'search-spaces'));
  const studyName = o.study ?? `${space.name}${o.configuration ? `-${o.configuration}` : ''}`;
  // A file the tasks read by its absolute path; a built-in space by its name.
  const spaceArg = fs.existsSync(o.space) ? path.resolve(o.space) : o.space;
  const files = slurmPaths(o.runsDir, studyName);
  fs.mkdirSync(files.logs, { recursive: true });
  const script: SlurmScriptOptions = {
    studyName,
    storage: o.storage,
    array: o.array,
    maxRunning: o.maxRunning,
    gpusPerTask: o.gpusPerTask,
    trialsPerGpu: o.trialsPerGpu,
    cpusPerTask: o.cpusPerTask,
    mem: o.mem,
    partition: o.partition,
    time: o.time,
    requeue: o.requeue,
    sbatchArgs: o.sbatchArg,
    workDir: process.cwd(),
    scriptFile: files.script,
    logDir: files.logs,
    driver: driver.argv,
    runArgs: runArgs(o, spaceArg, studyName),
    waitForOthersSeconds: o.waitForOthers,
    env,
  };
  fs.writeFileSync(files.script, renderSbatchScript(script), { mode: 0o600 });
  fs.chmodSync(files.script, 0o600);
  if (o.dryRun) {
    out(fs.readFileSync(files.script, 'utf8'));
    process.stderr.write(`slurm: script written to ${files.script} (not submitted: sbatch it by hand, or run again without --dry-run)\n`);
    return 0;
  }
  const r = spawnSync('sbatch', ['--parsable', files.script], { encoding: 'utf8' });
  if (r.error) throw new Error(`slurm: cannot run sbatch (${r.error.message}): run this on a machine of the cluster, or submit ${files.script} there`);
  if (r.status !== 0) throw new Error(`slurm: sbatch refused ${files.script}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  const jobId = r.stdout.trim().split(';')[0]!;
  fs.appendFileSync(files.jobs, `${jobId}\t${new Date().toISOString()}\t${o.array}\n`);
  out(`${jobId}\n`);
  process.stderr.write(
    `slurm: submitted job array ${jobId} (${o.array} task${o.array > 1 ? 's' : ''}) for study "${studyName}" in ${maskPassword(o.storage)}\n` +
      `  script ${files.script}, task output in ${files.logs}\n` +
      `  status: iccl-search slurm status --study ${studyName} --storage ${maskPassword(o.storage)}${o.runsDir === 'runs' ? '' : ` --runs-dir ${o.runsDir}`}\n`,
  );
  return 0;
}
