/**
 * bench/chaos: the faults of the fault suite, plus driver / trial SIGKILL, a PostgreSQL restart, a
 * torn journal tail and a full spool disk, each on a real demo study (ICCL on the synthetic set,
 * small budget), judged from outside (MLflow over REST, the journal or PostgreSQL through the real
 * optuna, the process table), against an uninterrupted run of the same study for the wall time.
 *   npx tsx bench/chaos/run.ts [--trials N] [--workers N] [--epochs N] [--only name,name] [--out bench/results/chaos.md]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalMlflowServer, MlflowClient } from '@iccl/mlflow';
import { FaultProxy } from '../../tools/fault-proxy/fault-proxy';
import { mountTinyDisk, unmountTinyDisk } from '../../tools/faults/tiny-disk';
import { endState, ROOT, startDriver, until, type Driver, type EndState } from '../../e2e/tests/support/fault-judge';
import { demoMetric, duplicatedTrials, latestTrialChild, marked, Postgres, trialsOf } from './support';

const argv = process.argv.slice(2);
const opt = (name: string, d: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : d);
const TRIALS = Number(opt('--trials', '4'));
const WORKERS = Number(opt('--workers', '2'));
// Stage-1 epochs of each trial: long enough (about 20 s a trial on a quiet 2-core machine, with the
// compiled engine that is every trainer's default) that every fault below hits where its row says;
// a fault meant to end mid-study that outlasts it voids its row (see outage()).
const EPOCHS = Number(opt('--epochs', '64'));
const ONLY = opt('--only', '').split(',').filter(Boolean);
const OUT = path.resolve(ROOT, opt('--out', 'bench/results/chaos.md'));
const METRIC = demoMetric();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ctx {
  dir: string;
  name: string;
  journal: string;
  spoolDir: string;
  storage: string;
  tracking: string;
  run: () => Driver;
  started: (n: number) => boolean;
  proxy: FaultProxy;
}

interface Case {
  name: string;
  when: string;
  storage?: 'journal' | 'postgres';
  /** Runs the study with the fault; returns the drivers it started (their wall times add up). */
  inject: (c: Ctx) => Promise<Driver[]>;
}

async function finished(d: Driver, ok = [0]): Promise<void> {
  const e = await d.exited;
  if (!ok.includes(e.code ?? -1) && !(ok.includes(137) && e.signal === 'SIGKILL')) throw new Error(`driver exited ${e.code ?? e.signal}:\n${d.output().slice(-3000)}`);
}

async function outage(c: Ctx, mode: 'refuse' | 'drop' | 'stall', from: () => boolean, to: () => boolean): Promise<Driver[]> {
  const d = c.run();
  let outlasted = false;
  try {
    await until('the fault point', from, 900_000);
    await c.proxy.setMode(mode);
    await until('the end of the outage', to, 900_000);
    outlasted = doneTrials(d.output()) >= TRIALS;
  } finally {
    await c.proxy.setMode('pass');
  }
  await finished(d);
  // These faults are meant to end while trials still run; one that outlasts the study tests the
  // end-of-search case instead (rows of their own), so the row is marked void rather than misread.
  if (outlasted) throw new Error(`fault mis-timed: all ${TRIALS} trials ended before the fault did (lengthen the trials: --epochs)`);
  return [d];
}

/** Trials the driver reported done so far (its progress lines: "trials N/M done"). */
function doneTrials(output: string): number {
  const all = [...output.matchAll(/trials (\d+)\/\d+ done/g)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
}

const later = (ms: number) => {
  let t0 = 0;
  return (cond: () => boolean) => () => cond() && (t0 ||= Date.now()) > 0 && Date.now() - t0 >= ms;
};

let pg: Postgres | null = null;

/** Processes of a case still alive after its driver was SIGKILLed and its watchdog acted, by case. */
const orphansAfterKill = new Map<string, number>();

/** Starts the study and waits until trial `n` has run `ms`. */
async function runUntil(c: Ctx, n: number, ms: number): Promise<Driver> {
  const d = c.run();
  await until(`trial ${n}`, later(ms)(() => c.started(n)), 900_000);
  return d;
}

/**
 * SIGKILLs the driver, counts what outlived it once its watchdog has acted, lets `damage` hit the
 * storage, then runs the same command again.
 */
async function killAndRerun(c: Ctx, d: Driver, damage?: () => void): Promise<Driver[]> {
  d.proc.kill('SIGKILL');
  await finished(d, [137]);
  await sleep(5000); // the watchdog's grace: SIGTERM, then SIGKILL after 3 s
  orphansAfterKill.set(c.name, marked(c.name).length);
  damage?.();
  const again = c.run();
  await finished(again);
  return [d, again];
}

const CASES: Case[] = [
  { name: 'none (baseline)', when: '-', inject: async (c) => { const d = c.run(); await finished(d); return [d]; } },
  {
    name: 'tracking down at study start',
    when: 'refused from before the start until trial 0 has run 10 s',
    inject: async (c) => {
      await c.proxy.setMode('refuse');
      const wait = later(10_000);
      return outage(c, 'refuse', () => true, wait(() => c.started(0)));
    },
  },
  { name: 'tracking down at a trial start', when: 'connections dropped from trial 2\'s start + 10 s', inject: (c) => { const w = later(10_000); return outage(c, 'drop', () => c.started(2), w(() => c.started(2))); } },
  { name: 'tracking stalls mid-trial', when: 'accepted, never answered, 15 s, from trial 0 + 10 s', inject: (c) => { const a = later(10_000); const b = later(25_000); return outage(c, 'stall', a(() => c.started(0)), b(() => c.started(0))); } },
  {
    name: 'tracking down at the end',
    when: 'refused from the last trial\'s start until the closing summary + 2 s',
    inject: async (c) => {
      const d = c.run();
      try {
        await until('the last trial', () => c.started(TRIALS - 1), 900_000);
        await c.proxy.setMode('refuse');
        await until('the closing summary', () => /trials \d+\/\d+ done/.test(d.output()), 900_000);
        await sleep(2000);
      } finally {
        await c.proxy.setMode('pass');
      }
      await finished(d);
      return [d];
    },
  },
  {
    name: 'tracking still down when the search ends',
    when: 'refused from trial 1\'s start to the end; a second driver replays',
    inject: async (c) => {
      const d = c.run();
      try {
        await until('trial 1', () => c.started(1), 900_000);
        await c.proxy.setMode('refuse');
        await finished(d);
      } finally {
        await c.proxy.setMode('pass');
      }
      const again = c.run();
      await finished(again);
      return [d, again];
    },
  },
  {
    name: 'full disk on the spool folder',
    when: '64 KiB tmpfs spool, tracking refused from trial 0 + 5 s to trial 2\'s start',
    inject: async (c) => {
      fs.mkdirSync(c.spoolDir, { recursive: true });
      mountTinyDisk(c.spoolDir, '64k');
      try {
        const a = later(5000);
        return await outage(c, 'refuse', a(() => c.started(0)), () => c.started(2));
      } finally {
        unmountTinyDisk(c.spoolDir);
      }
    },
  },
  {
    name: 'driver SIGKILL',
    when: 'trial 1 running 10 s; the same command again',
    inject: async (c) => killAndRerun(c, await runUntil(c, 1, 10_000)),
  },
  {
    name: 'trial process SIGKILL',
    when: 'trial 1\'s process, 10 s in',
    inject: async (c) => {
      const d = await runUntil(c, 1, 10_000);
      const kid = latestTrialChild(d.proc.pid!);
      if (kid) process.kill(kid, 'SIGKILL');
      await finished(d);
      return [d];
    },
  },
  {
    name: 'PostgreSQL restart',
    when: 'fast restart while trials 0 and 1 run',
    storage: 'postgres',
    inject: async (c) => {
      const d = await runUntil(c, 1, 8000);
      pg!.restart();
      await finished(d);
      return [d];
    },
  },
  {
    name: 'torn journal tail',
    when: 'driver SIGKILL at trial 1 + 10 s, half a record appended; the same command again',
    inject: async (c) => killAndRerun(c, await runUntil(c, 1, 10_000), () => fs.appendFileSync(c.journal, '{"op_code": 5, "worker_id": "torn", "trial_id": 1, "state"')),
  },
];

interface Row {
  c: Case;
  s: EndState;
  wallMs: number;
  orphans: number;
  trialsLost: number;
  trialsDuplicated: number;
  /** The machine's 1-minute load average when the case ended. */
  load: number;
  error?: string;
}

async function main(): Promise<void> {
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-chaos-mlflow-'));
  const server = process.env.ICCL_CHAOS_MLFLOW_URI ? undefined : await LocalMlflowServer.start({ dir: storeDir, startTimeoutMs: 300_000 });
  const uri = process.env.ICCL_CHAOS_MLFLOW_URI ?? server!.uri;
  const client = new MlflowClient({ trackingUri: uri, credentials: {} });
  const proxy = await FaultProxy.start({ targetPort: Number(new URL(uri).port) });
  const rows: Row[] = [];
  const t0 = Date.now();
  try {
    for (const c of CASES) {
      if (ONLY.length && !ONLY.some((o) => c.name.includes(o))) continue;
      if (c.storage === 'postgres' && !pg) pg = Postgres.start();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-chaos-'));
      const name = `chaos-${rows.length}-${Date.now().toString(36)}`;
      const journal = path.join(dir, 'studies.journal');
      const storage = c.storage === 'postgres' ? pg!.url : `journal:${journal}`;
      const spoolDir = path.join(dir, 'spool');
      const args = ['run', '--space', 'demo', '--configuration', 'smoke', '--study', name, '--trials', String(TRIALS), '--workers', String(WORKERS), '--pruner', 'nop', '--set', `epochs=${EPOCHS}`,
        '--storage', storage, '--tracking', `mlflow:${proxy.uri}`, '--runs-dir', path.join(dir, 'runs'), '--no-report', '--heartbeat', '2'];
      const env = { ICCL_MLFLOW_SPOOL_DIR: spoolDir, MLFLOW_TRACKING_URI: undefined, ICCL_CHAOS_CASE: c.name };
      const ctx: Ctx = { dir, name, journal, spoolDir, storage, tracking: proxy.uri, proxy, run: () => startDriver(args, env), started: (n) => fs.existsSync(path.join(dir, 'runs', name, `trial-${n}`)) };
      process.stderr.write(`chaos: ${c.name} ...\n`);
      let drivers: Driver[] = [];
      let error: string | undefined;
      try {
        drivers = await c.inject(ctx);
      } catch (e) {
        error = (e as Error).message.split('\n')[0];
        await proxy.setMode('pass');
      }
      await sleep(1000);
      drivers.forEach((d, i) => fs.writeFileSync(path.join(dir, `driver-${i}.log`), d.output()));
      const orphans = marked(c.name).length + (orphansAfterKill.get(c.name) ?? 0);
      for (const p of marked(c.name)) process.kill(p, 'SIGKILL');
      const trials = trialsOf(storage, name, pg);
      const s = await endState({ client, experiment: name, trials, spoolDir, metric: METRIC });
      const complete = trials.filter((t) => t.state === 'COMPLETE');
      const trialsDuplicated = duplicatedTrials(trials, TRIALS);
      const wallMs = (await Promise.all(drivers.map((d) => d.exited))).reduce((a, e) => a + e.ms, 0);
      rows.push({ c, s, wallMs, orphans, trialsLost: Math.max(0, TRIALS - complete.length), trialsDuplicated, load: os.loadavg()[0], error });
      process.stderr.write(`chaos: ${c.name}: ${JSON.stringify({ ...s, wallMs, orphans, error })} (logs in ${dir})\n`);
    }
  } finally {
    await proxy.close();
    await server?.stop();
    pg?.stop();
  }
  const base = rows.find((r) => r.c.name.startsWith('none'))?.wallMs;
  const lines = [
    '## Chaos: faults on a demo study (bench/chaos)',
    '',
    `\`npx tsx bench/chaos/run.ts\` on ${new Date().toISOString().slice(0, 10)}: each row is the demo space's smoke configuration (ICCL on the synthetic set, real training) with ${EPOCHS} stage-1 epochs a trial, ` +
      `${TRIALS} trials on ${WORKERS} workers, no pruning, tracking into a real MLflow server through a loopback fault proxy, ${Math.round((Date.now() - t0) / 60000)} min in all. ` +
      'Counts are judged from outside: MLflow over REST (a trial\'s points = the steps the driver recorded as its intermediate values), the study through the real optuna, the process table (orphans: trial processes and MLflow servers of the case still alive after its driver ended). ' +
      'Extra wall time is the case\'s drivers together minus the uninterrupted run; ' +
      `the machine's 1-minute load average at the end of each case ranged from ${Math.min(...rows.map((r) => r.load)).toFixed(1)} to ${Math.max(...rows.map((r) => r.load)).toFixed(1)} on ${os.cpus().length} cores.`,
    '',
    '| fault | when it hits | trials lost / duplicated | points lost / duplicated | runs RUNNING / spool left | orphans | extra wall time |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const extra = base === undefined || r.c.name.startsWith('none') ? `${(r.wallMs / 1000).toFixed(0)} s (baseline)` : `${((r.wallMs - base) / 1000).toFixed(0)} s`;
      const err = r.error ? ` (error: ${r.error})` : '';
      return `| ${r.c.name}${err} | ${r.c.when} | ${r.trialsLost} / ${r.trialsDuplicated} | ${r.s.pointsLost} / ${r.s.pointsDuplicated} (of ${r.s.pointsChecked}) | ${r.s.runsRunning} / ${r.s.spoolLeft} | ${r.orphans} | ${extra} |`;
    }),
    '',
  ];
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, lines.join('\n'));
  process.stdout.write(lines.join('\n') + '\n');
}

void main().catch((e) => {
  process.stderr.write(`chaos: ${(e as Error).stack}\n`);
  process.exit(1);
});
