import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { MlflowClient, type Run } from '@iccl/mlflow';

export const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'search/src/driver/cli.ts');

/** What a fault left behind, seen from outside: MLflow over REST, the journal through the real optuna. */
export interface EndState {
  trialsComplete: number;
  /** Trials of the journal, by state (COMPLETE, FAIL, ...). */
  trialStates: Record<string, number>;
  /** Trial numbers with more than one MLflow run, and runs beyond the first for each. */
  runsDuplicated: number;
  /** Trials of the journal without any MLflow run. */
  runsMissing: number;
  /** Points of `metric` the driver recorded (a trial's intermediate values) missing from the trial's MLflow run. */
  pointsLost: number;
  /** Points present more than once (same step) in a trial run. */
  pointsDuplicated: number;
  /** Reported points the judge looked for (so a judge that sees nothing cannot pass). */
  pointsChecked: number;
  runsRunning: number;
  /** Trial runs whose MLflow status does not match the trial's state. */
  statusWrong: number;
  spoolLeft: number;
  studyRunStatus: string | undefined;
}

const EXPECTED_STATUS: Record<string, string> = { COMPLETE: 'FINISHED', PRUNED: 'KILLED', FAIL: 'FAILED' };

/** Trials of every study in a journal, read by the real optuna package from .venv. */
export interface JournalTrial {
  number: number;
  state: string;
  system_attrs: Record<string, unknown>;
  /** Step -> intermediate value, as the driver recorded the trial's reports. */
  intermediate: Record<string, unknown>;
  params: Record<string, unknown>;
}

export function journalTrials(journal: string): JournalTrial[] {
  const py = path.join(ROOT, '.venv/bin/python');
  const out = execFileSync(py, [path.join(ROOT, 'search/tests/fixtures/optuna_read.py'), journal, 'symlink'], { encoding: 'utf8' });
  return (JSON.parse(out) as { trials: JournalTrial[] }[]).flatMap((s) => s.trials);
}

async function allRuns(client: MlflowClient, experimentId: string): Promise<Run[]> {
  const runs: Run[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await client.searchRuns({ experimentIds: [experimentId], pageToken, runViewType: 'ALL' });
    runs.push(...r.runs);
    if (!r.nextPageToken) break;
    pageToken = r.nextPageToken;
  }
  return runs;
}

const tag = (r: Run, k: string) => r.data.tags.find((t) => t.key === k)?.value;

export async function endState(o: { client: MlflowClient; experiment: string; journal?: string; trials?: JournalTrial[]; spoolDir: string; metric: string }): Promise<EndState> {
  const trials = o.trials ?? journalTrials(o.journal!);
  const states: Record<string, number> = {};
  for (const t of trials) states[t.state] = (states[t.state] ?? 0) + 1;
  const exp = await o.client.getExperimentByName(o.experiment);
  const runs = exp ? await allRuns(o.client, exp.experiment_id) : [];
  const byId = new Map(runs.map((r) => [r.info.run_id, r]));
  const byKey = new Map(runs.map((r) => [tag(r, 'iccl.run_key'), r]));
  // The run a trial logs into: its tracking_run_id, an MLflow id or a key reference (iccl-run-key:K)
  // for a run started while the server was unreachable. A retried trial shares the run it retries.
  const runOf = (t: (typeof trials)[number]): Run | undefined => {
    const ref = t.system_attrs.tracking_run_id;
    if (typeof ref !== 'string') return undefined;
    return ref.startsWith('iccl-run-key:') ? byKey.get(ref.slice('iccl-run-key:'.length)) : byId.get(ref);
  };
  const s: EndState = {
    trialsComplete: states.COMPLETE ?? 0,
    trialStates: states,
    runsDuplicated: 0,
    runsMissing: 0,
    pointsLost: 0,
    pointsDuplicated: 0,
    pointsChecked: 0,
    runsRunning: runs.filter((r) => r.info.status === 'RUNNING').length,
    statusWrong: 0,
    spoolLeft: fs.existsSync(o.spoolDir) ? fs.readdirSync(o.spoolDir).filter((n) => n.endsWith('.spool.jsonl')).length : 0,
    studyRunStatus: runs.find((r) => tag(r, 'iccl.trial') === undefined && tag(r, 'iccl.study') === o.experiment)?.info.status,
  };
  const last = new Map<string, (typeof trials)[number]>(); // run id -> the latest trial logging into it
  const reported = new Map<string, Set<number>>(); // run id -> steps its trials reported
  for (const t of [...trials].sort((a, b) => a.number - b.number)) {
    const r = runOf(t);
    if (!r) {
      s.runsMissing++;
      continue;
    }
    last.set(r.info.run_id, t);
    const steps = reported.get(r.info.run_id) ?? new Set<number>();
    for (const k of Object.keys(t.intermediate ?? {})) steps.add(Number(k));
    reported.set(r.info.run_id, steps);
  }
  s.runsDuplicated = runs.filter((r) => tag(r, 'iccl.trial') !== undefined && !last.has(r.info.run_id)).length;
  for (const [runId, t] of last) {
    const r = byId.get(runId)!;
    if (EXPECTED_STATUS[t.state] && r.info.status !== EXPECTED_STATUS[t.state]) s.statusWrong++;
    const steps = (await o.client.getMetricHistory(runId, o.metric)).map((m) => m.step);
    const unique = new Set(steps);
    s.pointsDuplicated += steps.length - unique.size;
    for (const step of reported.get(runId)!) {
      s.pointsChecked++;
      if (!unique.has(step)) s.pointsLost++;
    }
  }
  return s;
}

export interface Driver {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: string | null; ms: number }>;
}

/**
 * The search CLI as a user runs it, in its own process, from the repository root or from `cwd` (a
 * folder outside the repository: then tsx is given the workspace's tsconfig, which it finds from the
 * current folder up).
 */
export function startDriver(args: string[], env: Record<string, string | undefined>, cwd = ROOT): Driver {
  const t0 = Date.now();
  let out = '';
  const loader = pathToFileURL(require.resolve('tsx')).href;
  const where = cwd === ROOT ? {} : { TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json') };
  const proc = spawn(process.execPath, ['--import', loader, CLI, ...args], { cwd, env: { ...process.env, ...where, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null; ms: number }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - t0 })));
  return { proc, output: () => out, exited };
}

/** Polls `cond` every 100 ms until it holds; throws after `ms` naming `what`. */
export async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
