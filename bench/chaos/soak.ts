/**
 * bench/chaos soak: one long study (the demo space, real small training, PostgreSQL storage, MLflow
 * behind a loopback fault proxy) with a fault every 2-5 minutes drawn from the chaos rows by a seeded
 * generator, so a run can be replayed: MLflow restarted or stalled, PostgreSQL restarted, a trial
 * process or the driver SIGKILLed (the driver then started again with the same command). Judged from
 * outside as the chaos table is, once the study has finished.
 *   npx tsx bench/chaos/soak.ts [--seed 1] [--minutes 60] [--trials 320] [--workers 2] [--epochs 30]
 *       [--dry-run (print the fault schedule only)] [--out bench/results/chaos-soak.md]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalMlflowServer, MlflowClient } from '@iccl/mlflow';
import { FaultProxy } from '../../tools/fault-proxy/fault-proxy';
import { endState, ROOT, startDriver, type Driver } from '../../e2e/tests/support/fault-judge';
import { demoMetric, duplicatedTrials, latestTrialChild, marked, Postgres } from './support';

const argv = process.argv.slice(2);
const opt = (name: string, d: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : d);
const SEED = Number(opt('--seed', '1'));
const MINUTES = Number(opt('--minutes', '60'));
const TRIALS = Number(opt('--trials', '320'));
const WORKERS = Number(opt('--workers', '2'));
const EPOCHS = Number(opt('--epochs', '30'));
const OUT = path.resolve(ROOT, opt('--out', 'bench/results/chaos-soak.md'));
const MARK = `soak-${SEED}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const FAULT_KINDS = ['mlflow-restart', 'mlflow-stall', 'postgres-restart', 'trial-kill', 'driver-kill'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export interface Fault {
  /** seconds from the start of the soak */
  at: number;
  kind: FaultKind;
  /** how long MLflow stays down or stalled, seconds (other kinds: 0) */
  seconds: number;
}

/** mulberry32: a small seeded generator, so the same seed gives the same schedule. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Faults every 2-5 minutes over `minutes`, kinds uniformly drawn, outage lengths 5-40 s. */
export function faultSchedule(seed: number, minutes: number): Fault[] {
  const r = rng(seed);
  const out: Fault[] = [];
  for (let at = 120 + Math.floor(r() * 180); at < minutes * 60; at += 120 + Math.floor(r() * 180)) {
    const kind = FAULT_KINDS[Math.floor(r() * FAULT_KINDS.length)];
    const seconds = kind === 'mlflow-restart' ? 5 + Math.floor(r() * 26) : kind === 'mlflow-stall' ? 15 + Math.floor(r() * 26) : 0;
    out.push({ at, kind, seconds });
  }
  return out;
}

interface World {
  server: LocalMlflowServer;
  storeDir: string;
  port: number;
  proxy: FaultProxy;
  pg: Postgres;
  driver: Driver;
  restart: () => Driver;
  /** processes that outlived a killed driver (its watchdog's job), summed over the kills */
  orphans: number;
}

/** Applies one fault; returns what happened, for the schedule table. */
async function apply(w: World, f: Fault): Promise<string> {
  switch (f.kind) {
    case 'mlflow-restart':
      await w.server.stop();
      await sleep(f.seconds * 1000);
      w.server = await LocalMlflowServer.start({ dir: w.storeDir, port: w.port, startTimeoutMs: 300_000 });
      return `down ${f.seconds} s, restarted`;
    case 'mlflow-stall':
      await w.proxy.setMode('stall');
      await sleep(f.seconds * 1000);
      await w.proxy.setMode('pass');
      return `stalled ${f.seconds} s`;
    case 'postgres-restart':
      w.pg.restart();
      return 'fast restart';
    case 'trial-kill': {
      const kid = latestTrialChild(w.driver.proc.pid!);
      if (!kid) return 'no trial running: nothing killed';
      process.kill(kid, 'SIGKILL');
      return `trial process ${kid} killed`;
    }
    case 'driver-kill': {
      w.driver.proc.kill('SIGKILL');
      await w.driver.exited;
      await sleep(5000); // the watchdog's grace: SIGTERM, then SIGKILL after 3 s
      const left = marked(MARK);
      w.orphans += left.length;
      for (const p of left) process.kill(p, 'SIGKILL');
      w.driver = w.restart();
      return `driver killed; ${left.length} process(es) outlived it; started again`;
    }
  }
}

/** Waits until `at` seconds after t0, restarting a driver that ended on its own before the budget was done. */
async function waitUntil(w: World, t0: number, at: number, log: string[]): Promise<'done' | 'go'> {
  while (Date.now() - t0 < at * 1000) {
    const e = await Promise.race([w.driver.exited, sleep(1000).then(() => null)]);
    if (e && e.code === 0) return 'done';
    if (e) {
      log.push(`driver exited ${e.code ?? e.signal} on its own at ${((Date.now() - t0) / 60000).toFixed(1)} min: ${w.driver.output().slice(-300).replace(/\n/g, ' ')}`);
      w.driver = w.restart();
    }
  }
  return 'go';
}

async function main(): Promise<void> {
  const schedule = faultSchedule(SEED, MINUTES);
  if (argv.includes('--dry-run')) {
    for (const f of schedule) process.stdout.write(`${(f.at / 60).toFixed(1)} min\t${f.kind}${f.seconds ? ` ${f.seconds} s` : ''}\n`);
    return;
  }
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-soak-mlflow-'));
  const server = await LocalMlflowServer.start({ dir: storeDir, startTimeoutMs: 300_000 });
  const port = Number(new URL(server.uri).port);
  const proxy = await FaultProxy.start({ targetPort: port });
  const pg = Postgres.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-soak-'));
  const study = `soak-${SEED}-${Date.now().toString(36)}`;
  const spoolDir = path.join(dir, 'spool');
  const args = ['run', '--space', 'demo', '--configuration', 'smoke', '--study', study, '--trials', String(TRIALS), '--workers', String(WORKERS), '--pruner', 'nop',
    '--set', `epochs=${EPOCHS}`, '--storage', pg.url, '--tracking', `mlflow:${proxy.uri}`, '--runs-dir', path.join(dir, 'runs'), '--no-report', '--heartbeat', '2'];
  const env = { ICCL_MLFLOW_SPOOL_DIR: spoolDir, MLFLOW_TRACKING_URI: undefined, ICCL_CHAOS_CASE: MARK };
  const restart = () => startDriver(args, env);
  const w: World = { server, storeDir, port, proxy, pg, driver: restart(), restart, orphans: 0 };
  const t0 = Date.now();
  const applied: Array<{ f: Fault; what: string; atMin: number }> = [];
  const notes: string[] = [];
  try {
    for (const f of schedule) {
      if ((await waitUntil(w, t0, f.at, notes)) === 'done') {
        notes.push(`the study's budget was done at ${((Date.now() - t0) / 60000).toFixed(1)} min, before the fault at ${(f.at / 60).toFixed(1)} min: no more faults`);
        break;
      }
      process.stderr.write(`soak: ${(f.at / 60).toFixed(1)} min: ${f.kind}\n`);
      applied.push({ f, what: await apply(w, f), atMin: (Date.now() - t0) / 60000 });
    }
    await waitUntil(w, t0, MINUTES * 60 * 3, notes); // the study's end, bounded at three times the soak
    fs.writeFileSync(path.join(dir, 'driver-last.log'), w.driver.output());
    await sleep(1000);
    const left = marked(MARK);
    for (const p of left) process.kill(p, 'SIGKILL');
    const trials = pg.trials(study);
    const client = new MlflowClient({ trackingUri: w.server.uri, credentials: {} });
    const s = await endState({ client, experiment: study, trials, spoolDir, metric: demoMetric() });
    const complete = trials.filter((t) => t.state === 'COMPLETE').length;
    const minutes = (Date.now() - t0) / 60000;
    const lines = [
      '## Chaos soak: one long study under a seeded stream of faults (bench/chaos/soak.ts)',
      '',
      `\`npx tsx bench/chaos/soak.ts --seed ${SEED} --minutes ${MINUTES}\` on ${new Date().toISOString().slice(0, 10)}: the demo space's smoke configuration (ICCL on the synthetic set, real training, ` +
        `${EPOCHS} stage-1 epochs a trial), ${TRIALS} trials on ${WORKERS} workers, PostgreSQL storage, MLflow through a loopback fault proxy; ${applied.length} faults, ${minutes.toFixed(0)} min in all; ` +
        `1-minute load average at the end ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores. Judged from outside as the chaos table is. Replay: the same seed gives the same schedule (\`--dry-run\` prints it).`,
      '',
      '| trials lost / duplicated | points lost / duplicated | runs RUNNING / spool left | orphans |',
      '|---|---|---|---|',
      `| ${Math.max(0, TRIALS - complete)} / ${duplicatedTrials(trials, TRIALS)} | ${s.pointsLost} / ${s.pointsDuplicated} (of ${s.pointsChecked}) | ${s.runsRunning} / ${s.spoolLeft} | ${w.orphans + left.length} |`,
      '',
      '| at (min) | fault | what happened |',
      '|---|---|---|',
      ...applied.map((a) => `| ${a.atMin.toFixed(1)} | ${a.f.kind}${a.f.seconds ? ` (${a.f.seconds} s)` : ''} | ${a.what} |`),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
    ];
    fs.writeFileSync(OUT, lines.join('\n'));
    process.stdout.write(lines.join('\n') + `\n(logs in ${dir})\n`);
  } finally {
    w.driver.proc.kill('SIGKILL');
    await proxy.close();
    await w.server.stop();
    pg.stop();
  }
}

if (require.main === module) {
  void main().catch((e) => {
    process.stderr.write(`soak: ${(e as Error).stack}\n`);
    process.exit(1);
  });
}
