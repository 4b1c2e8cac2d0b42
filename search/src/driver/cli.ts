#!/usr/bin/env node
/**
 * The search driver's command line (run with `npx tsx search/src/driver/cli.ts`):
 *   run --space <file|name> [--study NAME] [--storage journal:PATH|postgresql://...] [--trials N] ...
 *   report --study NAME --storage ...
 *   list --storage ...
 *   slurm [submit] --space ... --storage postgresql://... --array N ...   |   slurm status --study NAME --storage ...
 */
import './signal-guard';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { writeReport } from '../report';
import { checkData, CompiledSpace } from '../spaces/compile';
import { loadSearchSpace, SearchSpaceError } from '../spaces/load';
import { loadStudy } from '../study/create';
import { StudyDirection, TrialState } from '../study/trial-types';
import { RandomSampler } from '../samplers/random';
import { NopPruner } from '../pruners/nop';
import { parseAssignment } from '@iccl/trainer-api';
import { assertDeviceAvailable } from '@iccl/tf-backend';
import { makePruner, makeSampler, makeTracking, openStorage } from './factories';
import { StudyProgress } from './progress';
import { describePlan, planGpuSlots } from './gpu-slots';
import { runStudy } from './run-study';
import { addSlurmCommands } from './slurm-cli';
import { assetsRoot, projectRoot, protocolRoot } from '../package-paths';

// Reports, data and the local MLflow store: the repository from its sources, the current folder when installed.
const REPO = projectRoot();
const DEFAULT_STORAGE = 'journal:runs/studies.journal';

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: got "${v}", expected a positive integer`);
    return n;
  };
}

/** `--sampler tpe` or `--sampler tpe:seed=3`; `--pruner median:nWarmupSteps=2`. */
function nameAndOptions(spec: string): { name: string; options: Record<string, unknown> } {
  const [name, ...rest] = spec.split(':');
  const options: Record<string, unknown> = {};
  for (const kv of rest.join(':').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    options[k] = v === undefined ? true : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return { name, options };
}

interface RunOpts {
  space: string;
  configuration?: string;
  study?: string;
  storage: string;
  trials?: number;
  workers?: number;
  timeout?: number;
  trialTimeout?: number;
  dataDir?: string;
  device: string;
  gpus?: string;
  trialsPerGpu?: number;
  decodeWorkers?: number;
  sampler?: string;
  pruner?: string;
  tracking: string;
  set: Record<string, unknown>;
  report: boolean;
  reportsDir?: string;
  runsDir?: string;
  heartbeat?: number;
  retries?: number;
  waitForOthers?: number;
}

async function cmdRun(o: RunOpts): Promise<number> {
  assertDeviceAvailable(o.device); // first: a machine without the device is told so before anything else
  const space = loadSearchSpace(o.space, o.configuration, path.join(assetsRoot(), 'search-spaces'));
  const gpus = planGpuSlots({ device: o.device, gpus: o.gpus, trialsPerGpu: o.trialsPerGpu, workers: o.workers, decodeWorkers: o.decodeWorkers });
  if (gpus) process.stderr.write(`${describePlan(gpus)}\n`);
  const dataDir = o.dataDir ? path.resolve(o.dataDir) : space.data?.dir ? path.resolve(REPO, space.data.dir) : undefined;
  checkData(space, dataDir);
  const compiled = new CompiledSpace(space, o.space, { set: o.set, repoRoot: protocolRoot(space.protocol), dataDir });
  for (const note of compiled.notes) process.stderr.write(`${note}\n`);
  const s = o.sampler ? nameAndOptions(o.sampler) : { name: space.sampler.name, options: space.sampler.options };
  const p = o.pruner ? nameAndOptions(o.pruner) : { name: space.pruner.name, options: space.pruner.options };
  const seed = (s.options.seed as number | undefined) ?? space.sampler.seed;
  const sampler = makeSampler(s.name, seed, s.options);
  const pruner = makePruner(p.name, p.options);
  const storage = openStorage(o.storage);
  const studyName = o.study ?? `${space.name}${o.configuration ? `-${o.configuration}` : ''}`;
  const tracking = await makeTracking(o.tracking, undefined, { experimentName: studyName, dir: REPO });
  const nTrials = o.trials ?? space.budget.trials;
  const stop = new AbortController();
  const onSig = () => stop.abort();
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  const progress = new StudyProgress(nTrials, compiled.directions.length === 1 ? compiled.directions[0] : null);
  try {
    let reportFile: string | null = null;
    const { interrupted } = await runStudy({
      studyName,
      space: compiled,
      storage,
      sampler,
      pruner,
      nTrials,
      workers: gpus ? gpus.workers : (o.workers ?? space.budget.workers),
      trialTimeout: o.trialTimeout ?? space.budget.trialTimeout,
      studyTimeout: o.timeout ?? space.budget.studyTimeout,
      retries: o.retries ?? space.budget.retries,
      runsDir: path.resolve(o.runsDir ?? 'runs', studyName),
      device: o.device,
      gpus,
      decodeWorkers: gpus ? undefined : o.decodeWorkers,
      tracking,
      heartbeatSeconds: o.heartbeat,
      stopSignal: stop.signal,
      waitForOthersSeconds: o.waitForOthers,
      onEvent: (e) => progress.onEvent(e),
      studyRunParams: {
        space: space.name,
        configuration: o.configuration ?? 'default',
        plugin: typeof space.plugin === 'string' ? space.plugin : `by ${space.plugin.param}`,
        sampler: s.name,
        'sampler.options': JSON.stringify({ seed, ...s.options }),
        pruner: p.name,
        'pruner.options': JSON.stringify(p.options ?? {}),
        objectives: compiled.objectiveMetrics.join(','),
        n_trials: nTrials,
      },
      onStudyEnd: async (study, studyRun) => {
        progress.stop();
        process.stderr.write(progress.line() + '\n');
        if (!o.report) return;
        const outDir = path.resolve(o.reportsDir ?? path.join(REPO, 'reports'), studyName);
        reportFile = await writeReport(study, { outDir, objectiveNames: compiled.objectiveMetrics });
        if (studyRun) {
          await studyRun.logArtifact(reportFile, 'report');
          await studyRun.logArtifact(path.join(outDir, 'trials.csv'), 'report');
        }
      },
    });
    if (reportFile) process.stderr.write(`report: ${reportFile}\n`);
    if (interrupted) {
      process.stderr.write(`interrupted: run the same command again to resume study "${studyName}"\n`);
      return 130;
    }
    const expId = await (tracking as { experimentId?: () => Promise<string> } | null)?.experimentId?.().catch(() => undefined);
    process.stderr.write(whereToLook(studyName, o.storage, o.tracking, expId));
    return 0;
  } finally {
    progress.stop();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await tracking?.close();
    await storage.close();
  }
}

/** The closing lines: where the study and its runs are, and how to open them. */
function whereToLook(studyName: string, storage: string, tracking: string, experimentId?: string): string {
  // MLflow's runs table of the study's experiment, where trials are compared; MLflow 3.17's UI opens
  // in its GenAI mode unless the link asks for model training (workflowType; experiment tags aside)
  const runsTable = (base: string) => (experimentId ? `${base.replace(/\/+$/, '')}/#/experiments/${experimentId}/runs?workflowType=machine_learning` : base);
  const lines = [`study "${studyName}" is in ${storage.startsWith('postgres') ? storage.replace(/:[^:@/]*@/, ':***@') : storage}`];
  if (storage.startsWith('journal:')) lines.push(`  open it with optuna-dashboard: pip install optuna-dashboard && optuna-dashboard ${storage.slice('journal:'.length)}`);
  if (tracking === 'mlflow' && !process.env.MLFLOW_TRACKING_URI) {
    lines.push(`runs: MLflow experiment "${studyName}" in ${path.join(REPO, 'mlflow.db')} (artifacts in ${path.join(REPO, 'mlartifacts')})`);
    lines.push(`  open them with: cd ${REPO} && .venv/bin/mlflow ui   (then ${runsTable('http://127.0.0.1:5000')})`);
  } else if (tracking.startsWith('mlflow')) {
    lines.push(`runs: MLflow experiment "${studyName}" at ${runsTable(tracking.startsWith('mlflow:') ? tracking.slice(7) : String(process.env.MLFLOW_TRACKING_URI))}`);
  } else if (tracking.startsWith('tensorboard:')) {
    lines.push(`runs: TensorBoard event files in ${path.resolve(tracking.slice(12))}; open them with: tensorboard --logdir ${path.resolve(tracking.slice(12))}   (HParams tab: the trials side by side)`);
  } else if (tracking.startsWith('jsonl:')) {
    lines.push(`runs: JSON-lines files in ${path.resolve(tracking.slice(6))}`);
  }
  return lines.join('\n') + '\n';
}

async function cmdReport(o: { study: string; storage: string; out?: string }): Promise<number> {
  const storage = openStorage(o.storage);
  try {
    const study = await loadStudy({ storage, studyName: o.study, sampler: new RandomSampler(0), pruner: new NopPruner() });
    const objectives = (await study.userAttrs()).objectives as string[] | undefined;
    const file = await writeReport(study, { outDir: path.resolve(o.out ?? path.join(REPO, 'reports', o.study)), objectiveNames: objectives });
    process.stdout.write(file + '\n');
    return 0;
  } finally {
    await storage.close();
  }
}

async function cmdList(o: { storage: string }): Promise<number> {
  const storage = openStorage(o.storage);
  try {
    for (const st of await storage.getAllStudies()) {
      const trials = await storage.getAllTrials(st.studyId);
      const count = (s: TrialState) => trials.filter((t) => t.state === s).length;
      const dirs = st.directions.map((d) => StudyDirection[d].toLowerCase()).join(',');
      process.stdout.write(
        `${st.studyName}\t${dirs}\t${trials.length} trials (${count(TrialState.COMPLETE)} complete, ${count(TrialState.PRUNED)} pruned, ${count(TrialState.FAIL)} failed, ${count(TrialState.RUNNING)} running, ${count(TrialState.WAITING)} waiting)\n`,
      );
    }
    return 0;
  } finally {
    await storage.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command().name('iccl-search').description('Hyperparameter search over trainer plugins: run a study, list studies, write reports, run a study on Slurm.').exitOverride();
  program
    .command('run')
    .description('Run (or resume) a study defined by a search-space file')
    .requiredOption('--space <file>', 'search-space file, or a name in search-spaces/ (e.g. demo, inat18)')
    .option('-c, --configuration <name>', 'a configuration of the space (e.g. smoke)')
    .option('--study <name>', 'study name (default: the space name, plus -<configuration>)')
    .option('--storage <spec>', 'journal:PATH or postgresql://USER@HOST:PORT/DB', DEFAULT_STORAGE)
    .option('--trials <n>', 'trials the study should hold in the end', positiveInt('--trials'))
    .option('--workers <n>', 'trials run in parallel, each in its own process', positiveInt('--workers'))
    .option('--timeout <s>', 'seconds after which no trial starts', positiveInt('--timeout'))
    .option('--trial-timeout <s>', 'seconds a trial may run', positiveInt('--trial-timeout'))
    .option('--retries <n>', 'retries of a trial lost to a crash or a dead worker', (v) => Number(v))
    .option('--heartbeat <s>', 'seconds between heartbeats of running trials', positiveInt('--heartbeat'))
    .option('--data-dir <dir>', 'folder holding the data set')
    .addOption(new Option('--device <d>', 'TensorFlow device').choices(['auto', 'cpu', 'gpu', 'js']).default('auto'))
    .option('--gpus <list>', 'GPUs the trials run on, one per trial process (e.g. 0,1,3; default under --device gpu|auto: all nvidia-smi lists)')
    .option('--trials-per-gpu <n>', 'trials sharing one GPU (small networks); workers default to GPUs x this', positiveInt('--trials-per-gpu'))
    .option('--decode-workers <n>', 'image-decoding threads per trial (default on GPUs: cores / trials running at once)', positiveInt('--decode-workers'))
    .option('--sampler <spec>', 'sampler: random, tpe, grid, sobol, nsga2 (options: tpe:seed=3)')
    .option('--pruner <spec>', 'pruner: median, percentile, nop, ... (options: median:nWarmupSteps=2)')
    .option('--tracking <spec>', 'mlflow[:URI] (MLFLOW_TRACKING_URI, else a local server on ./mlflow.db), tensorboard:DIR, jsonl:DIR, console or none', process.env.ICCL_TRACKING ?? 'mlflow')
    .option('--set <key=value>', 'pin a parameter (repeatable)', parseAssignment, {})
    .option('--runs-dir <dir>', 'where trial work dirs go (<dir>/<study>/trial-N)', 'runs')
    .option('--reports-dir <dir>', 'where the report goes (<dir>/<study>/index.html)')
    .option('--no-report', 'do not write reports/<study>/index.html at the end')
    .option('--wait-for-others <s>', "with other drivers on the study: when nothing is left to claim, stay while their trials run (looking every S seconds) to take over a lost one's retry", positiveInt('--wait-for-others'))
    .action(async (o: RunOpts) => {
      code = await cmdRun(o);
    });
  program
    .command('report')
    .description('Write reports/<study>/index.html and trials.csv for a study')
    .requiredOption('--study <name>', 'study name')
    .option('--storage <spec>', 'journal:PATH or postgresql://...', DEFAULT_STORAGE)
    .option('--out <dir>', 'output folder (default reports/<study>)')
    .action(async (o: { study: string; storage: string; out?: string }) => {
      code = await cmdReport(o);
    });
  program
    .command('list')
    .description('List the studies of a storage')
    .option('--storage <spec>', 'journal:PATH or postgresql://...', DEFAULT_STORAGE)
    .action(async (o: { storage: string }) => {
      code = await cmdList(o);
    });
  addSlurmCommands(program, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code?.startsWith('commander.')) return err.exitCode ?? 1;
    process.stderr.write(`error: ${err instanceof SearchSpaceError ? '' : ''}${err.message}\n`);
    return 1;
  }
  return code;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((c) => process.exit(c));
}
