/**
 * Storage benchmark of the search driver: P worker processes share one study and run N trivial
 * trials in total (N/P each), on our journal file, on Optuna 5 with the same journal file format
 * (the anchor, measured in the same run), and on PostgreSQL (ours, and Optuna's RDB storage when
 * psycopg2 is importable). Checks: exactly N trials, numbers 0..N-1 each once, all COMPLETE, and
 * the workers' own lists of finished trials disjoint and covering all. Prints trials/s and ratios.
 *
 *   npx tsx bench/search-infra/bench.ts [--trials 2000] [--procs 4] [--psycopg2 DIR]
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStorage, StudyDirection, TrialState } from '../../search/src';

const REPO = path.resolve(__dirname, '../..');
const PY = path.join(REPO, '.venv/bin/python');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('trials', '2000'));
const P = Number(arg('procs', '4'));
const PSYCOPG2 = arg('psycopg2', '/tmp/pgdeps');

function runProc(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-2000)}`))));
  });
}

interface Row {
  name: string;
  seconds: number;
  trialsPerS: number;
  check: string;
}

async function bench(name: string, spec: string, python: boolean, env?: NodeJS.ProcessEnv): Promise<Row> {
  const study = `bench-${name.replace(/\W+/g, '-')}-${Date.now().toString(36)}`;
  if (python) {
    execFileSync(PY, ['-c', `import optuna,sys; optuna.logging.set_verbosity(optuna.logging.ERROR)\n${spec.startsWith('journal:') ? `from optuna.storages import JournalStorage\nfrom optuna.storages.journal import JournalFileBackend\ns=JournalStorage(JournalFileBackend(sys.argv[1][8:]))` : `s=optuna.storages.RDBStorage(sys.argv[1].replace("postgresql://","postgresql+psycopg2://"))`}\noptuna.create_study(study_name=sys.argv[2], storage=s)`, spec, study], { env });
  } else {
    const s = openStorage(spec);
    await s.createStudy([StudyDirection.MINIMIZE], study);
    await s.close();
  }
  const per = Math.floor(N / P);
  const t0 = process.hrtime.bigint();
  const lists = await Promise.all(
    Array.from({ length: P }, () =>
      python ? runProc(PY, [path.join(__dirname, 'optuna_worker.py'), spec, study, String(per)], env) : runProc(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker.ts'), spec, study, String(per)]),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  // Verify through our storage (it reads Optuna's journal too; for Optuna's RDB, through its own python).
  let numbers: number[];
  let states: number[];
  if (python && !spec.startsWith('journal:')) {
    const out = execFileSync(PY, ['-c', `import optuna,sys,json\ns=optuna.storages.RDBStorage(sys.argv[1].replace("postgresql://","postgresql+psycopg2://"))\nts=optuna.load_study(study_name=sys.argv[2],storage=s).get_trials()\nprint(json.dumps([[t.number,t.state.value] for t in ts]))`, spec, study], {
      env,
      encoding: 'utf8',
    });
    const rows = JSON.parse(out) as [number, number][];
    numbers = rows.map((r) => r[0]);
    states = rows.map((r) => r[1]);
  } else {
    const s = openStorage(spec);
    const trials = await s.getAllTrials(await s.getStudyIdFromName(study));
    await s.close();
    numbers = trials.map((t) => t.number);
    states = trials.map((t) => t.state);
  }
  const total = per * P;
  const mine = lists.flat();
  const problems: string[] = [];
  if (numbers.length !== total) problems.push(`${numbers.length} trials, expected ${total}`);
  if (new Set(numbers).size !== numbers.length || numbers.some((n) => n < 0 || n >= total)) problems.push('trial numbers not 0..N-1 each once');
  if (states.some((s) => s !== TrialState.COMPLETE)) problems.push(`${states.filter((s) => s !== TrialState.COMPLETE).length} not COMPLETE`);
  if (mine.length !== total || new Set(mine).size !== total) problems.push(`workers reported ${mine.length} trials, ${new Set(mine).size} distinct`);
  const row = { name, seconds, trialsPerS: total / seconds, check: problems.length ? `FAIL: ${problems.join('; ')}` : `ok: ${total} trials, none lost or duplicated` };
  console.log(`${name}: ${row.trialsPerS.toFixed(1)} trials/s (${seconds.toFixed(1)} s), ${row.check}`);
  return row;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-bench-infra-'));
  fs.chmodSync(dir, 0o755); // the postgres user must reach the server's folder inside
  const rows: Row[] = [];
  rows.push(await bench('ours, journal file', `journal:${path.join(dir, 'ours.journal')}`, false));
  rows.push(await bench('Optuna 5, journal file', `journal:${path.join(dir, 'optuna.journal')}`, true));
  const pgDir = path.join(dir, 'pg');
  let url: string | null = process.env.ICCL_TEST_PG_URL ?? null;
  let started = false;
  if (!url) {
    url = execFileSync('bash', [path.join(REPO, 'tools/pg/start.sh'), pgDir], { encoding: 'utf8' }).trim().split('\n').pop()!;
    started = true;
  }
  try {
    rows.push(await bench('ours, PostgreSQL', url, false));
    const env = { ...process.env, PYTHONPATH: PSYCOPG2 };
    let hasPsycopg = true;
    try {
      execFileSync(PY, ['-c', 'import psycopg2'], { env, stdio: 'ignore' });
    } catch {
      hasPsycopg = false;
    }
    if (hasPsycopg) rows.push(await bench('Optuna 5, RDB on PostgreSQL', url, true, env));
    else console.log(`Optuna on PostgreSQL skipped: psycopg2 not importable (pip install --target ${PSYCOPG2} psycopg2-binary)`);
  } finally {
    if (started) execFileSync('bash', [path.join(REPO, 'tools/pg/stop.sh'), pgDir]);
  }
  const ratio = (a: string, b: string) => {
    const x = rows.find((r) => r.name === a);
    const y = rows.find((r) => r.name === b);
    return x && y ? (x.trialsPerS / y.trialsPerS).toFixed(2) : 'n/a';
  };
  const lines = [
    '## Search infrastructure: shared storages under concurrent workers',
    '',
    `\`npx tsx bench/search-infra/bench.ts --trials ${N} --procs ${P}\` — ${P} worker processes share one study and run ${N} trivial trials in total`,
    '(x ~ U(-10, 10), value x², random sampler; each process creates, samples and finishes its own trials through the storage).',
    `Machine: ${os.cpus().length} cores, shared with other work while measured. Anchor: Optuna 5.0.0 in the same run, same file format / same server.`,
    '',
    '| storage | trials/s | wall s | check |',
    '|---|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${r.trialsPerS.toFixed(1)} | ${r.seconds.toFixed(1)} | ${r.check} |`),
    '',
    `Ratio ours / Optuna: journal ${ratio('ours, journal file', 'Optuna 5, journal file')}, PostgreSQL ${ratio('ours, PostgreSQL', 'Optuna 5, RDB on PostgreSQL')} (higher is faster).`,
    '',
  ];
  console.log(lines.join('\n'));
  if (!process.argv.includes('--no-write')) fs.writeFileSync(path.join(REPO, 'bench/results/search-infra.md'), lines.join('\n'));
  fs.rmSync(dir, { recursive: true, force: true });
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
