// Helpers for the fault-injection tests: run the real CLI driver, inject a fault by killing or
// restarting a real process, and judge the end state from outside (the storage's rows, the real
// optuna reading the journal, which pids are left). Reusable by any fault case.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ATTR } from '../src/driver/attrs';
import type { Storage } from '../src/storages/base';
import { FIXED_PARAMS_ATTR } from '../src/study/trial';
import { TrialState, type FrozenTrial } from '../src/study/trial-types';
import { FIXTURES, python, REPO } from './helpers';

export const CLI = path.join(REPO, 'search/src/driver/cli.ts');

/** A search-space file for the test plugin (fixtures/test-plugin.ts): x in [-2, 2], loss x^2. */
export function writeSpace(dir: string, fixed: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'space.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'fault-test',
      plugin: path.join(FIXTURES, 'test-plugin.ts'),
      fixed: { epochs: 3, sleepMs: 150, logDir: dir, mode: 'ok', ...fixed },
      params: { x: { type: 'float', low: -2, high: 2 } },
      objectives: [{ metric: 'loss', direction: 'minimize' }],
      sampler: { name: 'random', seed: 0 },
      pruner: { name: 'nop' },
      ...extra,
    }),
  );
  return file;
}

/** Arguments every fault run shares: no tracking, work dirs and reports under `dir`. */
export const commonArgs = (dir: string, storage: string): string[] => ['--storage', storage, '--tracking', 'none', '--runs-dir', path.join(dir, 'runs'), '--reports-dir', path.join(dir, 'reports'), '--no-report'];

export interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Every process below the driver seen so far (sampled while it runs). */
  seen: Set<number>;
}

const runs: Run[] = [];
// A failed test must not leave its driver running (its watchdog then ends the trials).
afterEach(() => {
  for (const r of runs.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
});

/** Starts the CLI driver; samples its process tree every 100 ms so no child goes unseen. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', () => undefined);
  const seen = new Set<number>();
  const sample = setInterval(() => {
    if (child.pid) for (const p of descendants(child.pid)) seen.add(p);
  }, 100);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => {
      clearInterval(sample);
      resolve({ code, signal, stderr });
    }),
  );
  const run = { child, done, seen };
  runs.push(run);
  return run;
}

/** Polls `cond` every 50 ms for at most `ms`; true when it held. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** Lines of <dir>/exec.log: one "<trial number> <mode>" per trial execution (the test plugin writes them). */
export function execLines(dir: string): string[] {
  const log = path.join(dir, 'exec.log');
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
}

/** Waits until `n` trial executions have started (at most `ms`: generous, trial processes load TensorFlow). */
export async function startedAtLeast(dir: string, n: number, run: Run, ms = 180_000): Promise<void> {
  const ok = await until(() => execLines(dir).length >= n || run.child.exitCode !== null, ms);
  if (run.child.exitCode !== null) throw new Error(`driver exited early: ${(await run.done).stderr}`);
  if (!ok) throw new Error(`fewer than ${n} trials started within ${ms} ms`);
}

export function execCounts(dir: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const line of execLines(dir)) {
    const n = Number(line.split(' ')[0]);
    m.set(n, (m.get(n) ?? 0) + 1);
  }
  return m;
}

export async function trialsOf(storage: Storage, study: string): Promise<FrozenTrial[]> {
  return storage.getAllTrials(await storage.getStudyIdFromName(study));
}

/** Trials counted against the budget: all but the failed ones a retry replaced. */
export function settled(trials: FrozenTrial[]): FrozenTrial[] {
  const replaced = new Set(trials.map((t) => t.systemAttrs[ATTR.retriedFrom]).filter((n) => n !== undefined));
  return trials.filter((t) => !replaced.has(t.number));
}

/** The parameters of trials that drew them (not retries), in number order. */
export function sampledParams(trials: FrozenTrial[]): Record<string, unknown>[] {
  return trials.filter((t) => t.systemAttrs[FIXED_PARAMS_ATTR] === undefined).map((t) => t.params);
}

export interface Tally {
  /** Budgeted trials that did not end COMPLETE, plus those missing from the budget. */
  lost: number;
  /** Trial numbers that ran more than once, plus over-budget trials. */
  duplicated: number;
  /** Sampled points drawn twice. */
  repeatedPoints: number;
}

/** What the fault cost, judged from the rows and the trial executions the plugin logged. */
export function tally(trials: FrozenTrial[], budget: number, dir: string): Tally {
  const final = settled(trials);
  const counts = execCounts(dir);
  const ranTwice = [...counts.values()].filter((c) => c > 1).length;
  const points = sampledParams(trials).map((p) => JSON.stringify(p));
  return {
    lost: final.filter((t) => t.state !== TrialState.COMPLETE).length + Math.max(0, budget - final.length),
    duplicated: ranTwice + Math.max(0, final.length - budget),
    repeatedPoints: points.length - new Set(points).size,
  };
}

/** Pids of every process below `root` (from /proc, so grandchildren in other groups count too). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(d));
    } catch {
      // gone while we looked
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Alive and not a zombie (a dead process its new parent has not reaped yet counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids still alive after waiting at most `ms` for all of them to end. */
export async function survivors(pids: Iterable<number>, ms: number): Promise<number[]> {
  const list = [...pids];
  await until(() => !list.some(alive), ms);
  return list.filter(alive);
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Trial processes (trial-child) below the driver. */
export function trialProcesses(driverPid: number): number[] {
  return descendants(driverPid).filter((p) => cmdline(p).includes('trial-child'));
}

interface PyTrial {
  number: number;
  state: string;
  params: Record<string, unknown>;
  system_attrs: Record<string, unknown>;
}
/** The journal's studies as the real optuna package reads them. */
export function optunaStudies(journal: string): { name: string; trials: PyTrial[] }[] {
  return JSON.parse(python('optuna_read.py', [journal, 'symlink'])) as { name: string; trials: PyTrial[] }[];
}

/** A PostgreSQL of a test's own (tools/pg/start.sh), which the test may stop and start at will. */
export interface OwnPg {
  dir: string;
  url: string;
  /** The postmaster's pid, from its postmaster.pid. */
  pid(): number;
  /** Stops the server as a crash would (immediate: connections cut, no checkpoint). */
  stop(): void;
  start(): void;
  /** Stops it (tools/pg/stop.sh) and removes its folder. */
  remove(): void;
}

const PG_BIN = () => process.env.PG_BIN ?? (fs.existsSync('/usr/lib/postgresql') ? path.join('/usr/lib/postgresql', fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)).pop()!, 'bin') : '');

function asPostgres(cmd: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  const r = spawnSync(root ? 'runuser' : cmd, root ? ['-u', 'postgres', '--', cmd, ...args] : args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

export function startOwnPg(dir: string): OwnPg {
  const pgDir = path.join(dir, 'pg');
  fs.chmodSync(dir, 0o755); // the server runs as `postgres` when the tests run as root
  const r = spawnSync('bash', [path.join(REPO, 'tools/pg/start.sh'), pgDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tools/pg/start.sh failed: ${r.stderr}`);
  const url = r.stdout.trim().split('\n').pop()!;
  const port = fs.readFileSync(path.join(pgDir, 'port'), 'utf8').trim();
  const ctl = path.join(PG_BIN(), 'pg_ctl');
  const data = path.join(pgDir, 'data');
  return {
    dir: pgDir,
    url,
    pid: () => Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    stop: () => asPostgres(ctl, ['-D', data, '-m', 'immediate', '-w', 'stop']),
    start: () => asPostgres(ctl, ['-D', data, '-l', path.join(pgDir, 'server.log'), '-w', '-t', '30', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${pgDir} -c fsync=off -c max_connections=100`, 'start']),
    remove: () => {
      spawnSync('bash', [path.join(REPO, 'tools/pg/stop.sh'), pgDir]);
    },
  };
}
