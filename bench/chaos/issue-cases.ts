/**
 * The three cases of issue 11 as a new user ran them, run again after the fixes and judged from
 * outside (MLflow over REST, the journal through the real optuna, the process table):
 *   1. a 40-second MLflow outage (server stopped 20 s in, started 30 s later on the same port and store)
 *      during `run --space toy --trials 6 --workers 2 --set epochs=40 --set sleepMs=1000 --pruner nop`;
 *   2. `run --space demo --trials 6 --workers 2` SIGKILLed while trials 2 and 3 run, then the same
 *      command again, against an uninterrupted study of the same seed;
 *   3. after that SIGKILL, no local MLflow server or trial process left; and with
 *      `--tracking mlflow:sqlite:///OTHER/mlflow.db` the artifacts go beside the store.
 *   npx tsx bench/chaos/issue-cases.ts [--only 1,2,3] [--out bench/results/chaos-issue-cases.md]
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { MlflowClient } from '@iccl/mlflow';
import { endState, journalTrials, ROOT, startDriver, until, type Driver } from '../../e2e/tests/support/fault-judge';

const argv = process.argv.slice(2);
const opt = (name: string, d: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : d);
const ONLY = opt('--only', '1,2,3').split(',');
const OUT = path.resolve(ROOT, opt('--out', 'bench/results/chaos-issue-cases.md'));
const MARK = `issue-cases-${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes started for these cases (their environment carries the marker) that are still alive. */
function leftBehind(): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`ICCL_ISSUE_CASES=${MARK}`)) continue;
      const state = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state === 'Z') continue;
      out.push({ pid: Number(p), cmd: fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120) });
    } catch {
      /* gone */
    }
  }
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** tools/mlflow/server.sh in its own process group, so that stopping it stops its workers too. */
async function startServer(dir: string, port: number): Promise<ChildProcess> {
  const p = spawn('bash', [path.join(ROOT, 'tools/mlflow/server.sh'), dir, String(port)], { detached: true, stdio: 'ignore', env: { ...process.env, ICCL_ISSUE_CASES: MARK } });
  const client = new MlflowClient({ trackingUri: `http://127.0.0.1:${port}`, credentials: {} });
  for (let i = 0; i < 240 && !(await client.health(1000)); i++) await sleep(500);
  if (!(await client.health(2000))) throw new Error(`MLflow server on ${port} did not start`);
  return p;
}

async function stopServer(p: ChildProcess): Promise<void> {
  const gone = new Promise((r) => p.once('exit', r));
  try {
    process.kill(-p.pid!, 'SIGTERM');
  } catch {
    return;
  }
  await Promise.race([gone, sleep(15_000)]);
  try {
    process.kill(-p.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

async function finished(d: Driver, codes = [0]): Promise<number> {
  const e = await d.exited;
  if (!codes.includes(e.code ?? -1) && !(codes.includes(137) && e.signal === 'SIGKILL')) throw new Error(`driver exited ${e.code ?? e.signal}:\n${d.output().slice(-3000)}`);
  return e.ms;
}

const lines: string[] = [];
const say = (s: string) => {
  lines.push(s);
  process.stderr.write(s + '\n');
};

async function case1(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-case1-'));
  const port = await freePort();
  const uri = `http://127.0.0.1:${port}`;
  let server = await startServer(dir, port);
  const name = `outage-${Date.now().toString(36)}`;
  const journal = path.join(dir, 'studies.journal');
  const spoolDir = path.join(dir, 'spool');
  const d = startDriver(
    ['run', '--space', 'toy', '--study', name, '--trials', '6', '--workers', '2', '--set', 'epochs=40', '--set', 'sleepMs=1000', '--pruner', 'nop', '--storage', `journal:${journal}`, '--runs-dir', path.join(dir, 'runs'), '--no-report'],
    { MLFLOW_TRACKING_URI: uri, ICCL_MLFLOW_SPOOL_DIR: spoolDir, ICCL_ISSUE_CASES: MARK },
  );
  try {
    await sleep(20_000);
    await stopServer(server);
    say(`case 1: server stopped at 20 s; driver still running: ${d.proc.exitCode === null}`);
    await sleep(30_000);
    server = await startServer(dir, port);
    say(`case 1: server started again on port ${port} with the same store; driver still running: ${d.proc.exitCode === null}`);
    const ms = await finished(d);
    const s = await endState({ client: new MlflowClient({ trackingUri: uri, credentials: {} }), experiment: name, journal, spoolDir, metric: 'loss' });
    say(`case 1: driver exit 0 after ${(ms / 1000).toFixed(0)} s; ${JSON.stringify(s)}`);
    say(`case 1: loss points expected 6 x 40 = 240, checked ${s.pointsChecked}; lost ${s.pointsLost}, duplicated ${s.pointsDuplicated}; runs RUNNING ${s.runsRunning}; spool files left ${s.spoolLeft}; study run ${s.studyRunStatus}`);
    fs.writeFileSync(path.join(dir, 'driver.log'), d.output());
  } finally {
    await stopServer(server);
  }
  say(`case 1: processes left behind: ${JSON.stringify(leftBehind())} (logs in ${dir})`);
}

function demoArgs(dir: string, name: string): string[] {
  return ['run', '--space', 'demo', '--study', name, '--trials', '6', '--workers', '2', '--storage', `journal:${path.join(dir, 'studies.journal')}`, '--runs-dir', path.join(dir, 'runs'), '--no-report'];
}

async function case23(): Promise<void> {
  // Default tracking: no MLFLOW_TRACKING_URI, so the driver starts its own local server (./mlflow.db of its cwd).
  const env = { MLFLOW_TRACKING_URI: undefined, ICCL_ISSUE_CASES: MARK };
  const a = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-case2-killed-'));
  const b = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-case2-plain-'));
  const started = (dir: string, n: number) => fs.existsSync(path.join(dir, 'runs', 'demo', `trial-${n}`));
  const first = startDriver(demoArgs(a, 'demo'), { ...env, ICCL_MLFLOW_SPOOL_DIR: path.join(a, 'spool') }, a);
  await until('trials 2 and 3', () => started(a, 2) && started(a, 3), 1_800_000);
  await sleep(5000);
  first.proc.kill('SIGKILL');
  await finished(first, [137]);
  await sleep(6000); // the watchdog: SIGTERM, then SIGKILL after its grace
  const afterKill = leftBehind();
  say(`case 3: 6 s after the driver's SIGKILL (trials 2 and 3 running): processes left: ${afterKill.length} ${JSON.stringify(afterKill)}`);
  const again = startDriver(demoArgs(a, 'demo'), { ...env, ICCL_MLFLOW_SPOOL_DIR: path.join(a, 'spool') }, a);
  const plain = startDriver(demoArgs(b, 'demo'), { ...env, ICCL_MLFLOW_SPOOL_DIR: path.join(b, 'spool') }, b);
  await finished(again);
  await finished(plain);
  fs.writeFileSync(path.join(a, 'driver-1.log'), first.output());
  fs.writeFileSync(path.join(a, 'driver-2.log'), again.output());
  fs.writeFileSync(path.join(b, 'driver.log'), plain.output());
  const key = (p: Record<string, unknown>) => JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k]]));
  const killed = journalTrials(path.join(a, 'studies.journal'));
  const ref = journalTrials(path.join(b, 'studies.journal'));
  const fresh = killed.filter((t) => t.system_attrs.retried_from === undefined);
  const distinctKilled = new Set(fresh.map((t) => key(t.params)));
  const distinctRef = new Set(ref.map((t) => key(t.params)));
  const same = [...distinctRef].every((k) => distinctKilled.has(k)) && distinctKilled.size === distinctRef.size;
  say(
    `case 2: killed and resumed study: ${killed.length} trials (${killed.map((t) => `${t.number}:${t.state}${t.system_attrs.retried_from !== undefined ? `<-${String(t.system_attrs.retried_from)}` : ''}`).join(' ')}); ` +
      `${fresh.length} proposed (not retries), ${distinctKilled.size} distinct points; uninterrupted study: ${ref.length} trials, ${distinctRef.size} distinct points; ` +
      `the same points: ${same}`,
  );
  // Proposals in order (retries take numbers of their own, so the k-th proposal, not trial number k, is compared).
  const inOrder = (ts: typeof ref) => [...ts].sort((x, y) => x.number - y.number).map((t) => key(t.params));
  const ka = inOrder(fresh);
  const kb = inOrder(ref);
  const differ = ka.map((k, i) => (k === kb[i] ? -1 : i)).filter((i) => i >= 0);
  say(`case 2: the k-th proposed point of the resumed study equals the uninterrupted study's k-th for every k: ${differ.length === 0 && ka.length === kb.length} (differing k: ${JSON.stringify(differ)})`);
  say(`case 3: after both studies ended: processes left: ${JSON.stringify(leftBehind())}`);
  say(`case 2: logs in ${a} and ${b}`);
}

async function case3Artifacts(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-case3-cwd-'));
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-case3-store-'));
  const d = startDriver(['run', '--space', 'toy', '--study', 'artifacts', '--trials', '1', '--workers', '1', '--set', 'epochs=2', '--storage', `journal:${path.join(work, 's.journal')}`, '--tracking', `mlflow:sqlite:///${other}/mlflow.db`, '--no-report'], {
    MLFLOW_TRACKING_URI: undefined,
    ICCL_MLFLOW_SPOOL_DIR: path.join(work, 'spool'),
    ICCL_ISSUE_CASES: MARK,
  }, work);
  const code = (await d.exited).code;
  const out = d.output();
  const list = (p: string): string[] => (fs.existsSync(p) ? fs.readdirSync(p, { recursive: true }).map(String) : []);
  const besideStore = list(path.join(other, 'mlartifacts')).filter((f) => /\.(json|csv|txt)$/.test(f));
  say(`case 3: --tracking mlflow:sqlite:///OTHER/mlflow.db exit ${code}; artifact files beside the store (OTHER/mlartifacts): ${besideStore.length}; ./mlartifacts of the working directory exists: ${fs.existsSync(path.join(work, 'mlartifacts'))}`);
  if (code !== 0) say(`case 3: driver output: ${out.slice(-1500)}`);
  say(`case 3: processes left: ${JSON.stringify(leftBehind())}`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  if (ONLY.includes('1')) await case1();
  if (ONLY.includes('2')) await case23();
  if (ONLY.includes('3')) await case3Artifacts();
  for (const p of leftBehind()) process.kill(p.pid, 'SIGKILL');
  const md = [
    '## The three cases of issue 11, run again (bench/chaos/issue-cases.ts)',
    '',
    `\`npx tsx bench/chaos/issue-cases.ts\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${Math.round((Date.now() - t0) / 60000)} min, ` +
      'judged from outside (MLflow over REST, the journal through the real optuna, /proc for processes carrying the run\'s marker):',
    '',
    ...lines.map((l) => `- ${l}`),
    '',
  ].join('\n');
  fs.writeFileSync(OUT, md);
  process.stdout.write(md);
}

void main().catch((e) => {
  process.stderr.write(`issue-cases: ${(e as Error).stack}\n`);
  for (const p of leftBehind()) process.kill(p.pid, 'SIGKILL');
  process.exit(1);
});
