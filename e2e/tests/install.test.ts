/**
 * The packages as a user gets them. Runs the command block of the README's "Use the plugin in your own
 * project", line by line and in order, with PACKAGES and PROJECT two new folders outside the repository
 * (no workspace, no tsx, no repository bins on PATH), and judges each line from the outside: tarball
 * contents, what node resolves, the scripts' printed results, the real `optuna` reading the study
 * journal, and the MLflow server over REST. A README line with no check here fails, so the README and
 * the test cannot drift apart.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as readline from 'node:readline';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { portsListenedBy, processTree } from './support/listening';

const ROOT = path.resolve(__dirname, '../..');
const SECTION = '## Use the plugin in your own project';

/** The lines of the first ```bash block under the README section. */
function readmeCommands(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${SECTION}\n`);
  if (at < 0) throw new Error(`README.md has no section "${SECTION}"`);
  const block = /```bash\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  if (!block) throw new Error(`README.md: section "${SECTION}" has no bash block`);
  return block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-install-'));
const PACKAGES = path.join(work, 'packages');
const PROJECT = path.join(work, 'my-project');
fs.mkdirSync(PACKAGES);
fs.mkdirSync(PROJECT);

/** The user's environment: none of the outer npm/Nx run's variables, no node_modules/.bin of the repository on PATH. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NX_|NODE_OPTIONS$|INIT_CWD$|TS_NODE|TSX)/i.test(k)) env[k] = v;
  env.PATH = (process.env.PATH ?? '').split(path.delimiter).filter((d) => !d.includes('node_modules')).join(path.delimiter);
  return { ...env, PACKAGES, PROJECT, MLFLOW_TRACKING_URI: process.env.ICCL_TEST_MLFLOW_URI, CI: 'true' };
}

let cwd = ROOT;
type Ran = { status: number | null; stdout: string; stderr: string };
function sh(cmd: string, timeoutMs = 840_000): Ran {
  const r = spawnSync('bash', ['-c', cmd], { cwd, env: userEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const tail = (r: Ran) => `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-25).join('\n');
function ok(r: Ran): void {
  if (r.status !== 0) throw new Error(`exit status ${r.status}:\n${tail(r)}`);
}
/** The JSON a script prints on its `RESULT ` line. */
function result(r: Ran): Record<string, unknown> {
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`no RESULT line:\n${tail(r)}`);
  return JSON.parse(line.slice(7)) as Record<string, unknown>;
}
function expectTrained(res: Record<string, unknown>): void {
  expect(res.status).toBe('FINISHED');
  // Two stage-1 epochs and one cRT epoch, each evaluated (evalEvery 1): three metric steps at least.
  expect(res.steps).toBeGreaterThanOrEqual(3);
  for (const k of ['top1', 'few']) {
    expect(typeof res[k]).toBe('number');
    expect(res[k]).toBeGreaterThanOrEqual(0);
    expect(res[k]).toBeLessThanOrEqual(1);
  }
}
async function mlflow(endpoint: string, body?: unknown): Promise<Record<string, unknown>> {
  const uri = process.env.ICCL_TEST_MLFLOW_URI!;
  const res = await fetch(`${uri}/api/2.0/mlflow/${endpoint}`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  if (!res.ok) throw new Error(`${endpoint}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** How each README line is checked, by the line's start. */
const checks: Array<[RegExp, (cmd: string, r: Ran) => void | Promise<void>]> = [
  [/^npm pack /, (cmd, r) => {
    ok(r);
    const wanted = [...cmd.matchAll(/-w (\S+)/g)].map((m) => JSON.parse(fs.readFileSync(path.join(ROOT, m[1]!, 'package.json'), 'utf8')) as { name: string });
    const tarballs = fs.readdirSync(PACKAGES).filter((f) => f.endsWith('.tgz'));
    expect(tarballs.sort()).toEqual(wanted.map((p) => `${p.name.replace('@', '').replace('/', '-')}-0.1.0.tgz`).sort());
    for (const t of tarballs) {
      const files = sh(`tar -tzf "${path.join(PACKAGES, t)}"`).stdout.split('\n');
      for (const f of ['package/dist/index.js', 'package/dist/index.mjs', 'package/dist/index.d.ts', 'package/dist/index.js.map']) expect([t, files.includes(f)]).toEqual([t, true]);
      expect([t, files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/tests/'))]).toEqual([t, []]);
      const manifest = JSON.parse(sh(`tar -xzOf "${path.join(PACKAGES, t)}" package/package.json`).stdout) as { private?: boolean };
      expect([t, manifest.private]).toEqual([t, undefined]);
    }
    const search = sh(`tar -tzf "${path.join(PACKAGES, 'iccl-search-0.1.0.tgz')}"`).stdout;
    for (const f of ['dist/search-spaces/demo.json', 'dist/configs/synthetic.json', 'dist/samplers/sobol-direction-numbers.json', 'dist/driver/trial-child.js']) expect(search).toContain(`package/${f}`);
  }],
  [/^cp -r examples\/own-project/, (_c, r) => {
    ok(r);
    expect(fs.existsSync(path.join(PROJECT, 'my-space.json'))).toBe(true);
  }],
  [/^cd "\$PROJECT"$/, () => {
    cwd = PROJECT;
  }],
  [/^npm init -y$/, (_c, r) => {
    ok(r);
    expect(fs.existsSync(path.join(PROJECT, 'package.json'))).toBe(true);
  }],
  [/^npm install --ignore-scripts "\$PACKAGES"/, (_c, r) => {
    ok(r);
    // Real installed copies, not links into the repository; the commands are there; no tsx.
    const iccl = fs.realpathSync(path.join(PROJECT, 'node_modules/@iccl/iccl'));
    expect(iccl.startsWith(PROJECT)).toBe(true);
    for (const b of ['iccl-run', 'iccl-search', 'iccl-mlflow-sync', 'iccl-setup-native']) expect([b, fs.existsSync(path.join(PROJECT, 'node_modules/.bin', b))]).toEqual([b, true]);
    expect(fs.existsSync(path.join(PROJECT, 'node_modules/tsx'))).toBe(false);
    expect(fs.existsSync(path.join(PROJECT, 'node_modules/@tensorflow/tfjs-node'))).toBe(true);
  }],
  [/^npx iccl-setup-native$/, (_c, r) => {
    ok(r);
    expect(r.stderr).toMatch(/\[native\] ready: @tensorflow\/tfjs-node on native TensorFlow \d/);
    const probe = sh(`node -e "const tf=require('@tensorflow/tfjs-node');console.log(tf.getBackend(), require.resolve('@tensorflow/tfjs-node'))"`);
    ok(probe);
    expect(probe.stdout.trim()).toBe(`tensorflow ${path.join(fs.realpathSync(PROJECT), 'node_modules/@tensorflow/tfjs-node/dist/index.js')}`);
  }],
  [/^node train\.cjs$/, (_c, r) => {
    ok(r);
    expectTrained(result(r));
    expect(fs.realpathSync(sh(`node -p "require.resolve('@iccl/iccl')"`).stdout.trim())).toBe(path.join(fs.realpathSync(PROJECT), 'node_modules/@iccl/iccl/dist/index.js'));
  }],
  [/^node train\.mjs$/, (_c, r) => {
    ok(r);
    expectTrained(result(r));
    const resolved = sh(`node --input-type=module -e "console.log(import.meta.resolve('@iccl/iccl'))"`).stdout.trim();
    expect(resolved).toBe(`file://${path.join(fs.realpathSync(PROJECT), 'node_modules/@iccl/iccl/dist/index.mjs')}`);
  }],
  [/^npm install --save-dev/, (_c, r) => {
    ok(r);
    expect(fs.existsSync(path.join(PROJECT, 'node_modules/typescript/bin/tsc'))).toBe(true);
  }],
  [/^npx tsc -p \.$/, (_c, r) => {
    ok(r);
    // The check can fail: the same project with a wrong use of the declarations does not compile.
    fs.writeFileSync(path.join(PROJECT, 'wrong.ts'), "import { plugin } from '@iccl/iccl';\nexport const n: string = plugin.params.epochs.default;\n");
    const bad = sh('npx tsc --noEmit --strict --module node16 --moduleResolution node16 --skipLibCheck --types node wrong.ts');
    fs.rmSync(path.join(PROJECT, 'wrong.ts'));
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain('wrong.ts');
  }],
  [/^npx iccl-run @iccl\/iccl /, (_c, r) => {
    ok(r);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { run: string; metrics: Record<string, number> };
    expect(out.run).toBe('first');
    expect(out.metrics.top1).toBeGreaterThanOrEqual(0);
    const recs = fs.readFileSync(path.join(PROJECT, 'runs/first.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.find((x) => x.kind === 'params')).toMatchObject({ params: { dataset: 'synthetic', model: 'small-cnn', maxStepsPerEpoch: 3 } });
    expect(recs[recs.length - 1]).toMatchObject({ kind: 'end', status: 'FINISHED' });
  }],
  [/^npx iccl-search run --space \.\/my-space\.json/, (_c, r) => {
    ok(r);
    expect(fs.existsSync(path.join(PROJECT, 'reports/my-study/index.html'))).toBe(true);
    // The study as Optuna itself reads it from the journal the installed driver wrote.
    const py = [
      'import optuna, json, sys',
      'from optuna.storages.journal import JournalStorage, JournalFileBackend',
      's = optuna.load_study(study_name="my-study", storage=JournalStorage(JournalFileBackend(sys.argv[1])))',
      'print(json.dumps([[t.state.name, t.value, sorted(t.params)] for t in s.trials]))',
    ].join('\n');
    const q = spawnSync(path.join(ROOT, '.venv/bin/python'), ['-c', py, path.join(PROJECT, 'runs/studies.journal')], { encoding: 'utf8' });
    if (q.status !== 0) throw new Error(`optuna could not read the journal: ${q.stderr}`);
    const trials = JSON.parse(q.stdout) as Array<[string, number, string[]]>;
    expect(trials).toHaveLength(2);
    for (const [state, value, params] of trials) {
      expect(state).toBe('COMPLETE');
      expect(value).toBeGreaterThanOrEqual(0);
      expect(params).toEqual(['alpha', 'lr']);
    }
  }],
  [/^node mlflow-loop\.cjs$/, async (_c, r) => {
    ok(r);
    const { experimentName } = result(r) as { experimentName: string };
    const exp = (await mlflow(`experiments/get-by-name?experiment_name=${encodeURIComponent(experimentName)}`)).experiment as { experiment_id: string };
    const found = (await mlflow('runs/search', { experiment_ids: [exp.experiment_id], filter: "attributes.run_name = 'hand-written-loop'" })).runs as Array<{ info: { run_id: string; status: string } }>;
    expect(found).toHaveLength(1);
    expect(found[0]!.info.status).toBe('FINISHED');
    const hist = (await mlflow(`metrics/get-history?run_id=${found[0]!.info.run_id}&metric_key=loss`)).metrics as Array<{ step: number; value: number }>;
    expect(hist.map((m) => Number(m.step)).sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
    const byStep = [...hist].sort((a, b) => Number(a.step) - Number(b.step));
    expect(byStep[29]!.value).toBeLessThan(byStep[0]!.value / 10);
  }],
];

/**
 * Starts `npx iccl-run @iccl/iccl --protocol` in the installed project, sends `sig` to the pid of its
 * `hello` after the second report, and notes the ports its process tree (npx, sh, the trial) listens on
 * at the next message, while the trial still lives.
 */
function signalledTrial(sig: NodeJS.Signals): Promise<{ code: number | null; result: unknown; stderr: string; listening: number[]; trialPid: number; npxPid: number }> {
  const sets = ['dataset=synthetic', 'model=small-cnn', 'width=8', 'epochs=6', 'iccWarmupEpochs=1', 'crtEpochs=0', 'warmupEpochs=0', 'batchSize=16', 'maxPerClass=40', 'testPerClass=10', 'maxStepsPerEpoch=3', 'evalEvery=1'];
  const child = spawn('npx', ['iccl-run', '@iccl/iccl', '--protocol', '--tracker', 'none', '--run-id', `signal-${sig}`, ...sets.flatMap((x) => ['--set', x])], { cwd: PROJECT, env: userEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  let trialPid = 0;
  let reports = 0;
  let listening: number[] | null = null;
  let result: unknown = null;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as { type: string; pid?: number };
    if (m.type === 'hello') trialPid = m.pid!;
    if (m.type === 'result') result = m;
    if (reports === 2 && listening === null) listening = portsListenedBy(processTree(child.pid!));
    if (m.type === 'report' && ++reports === 2) process.kill(trialPid, sig);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, result, stderr, listening: listening ?? [-1], trialPid, npxPid: child.pid! })));
}

describe('install the packed packages into a project outside the repository (README "Use the plugin in your own project")', () => {
  const commands = readmeCommands();
  let broken: string | null = null;
  it('every README line has a check', () => {
    const unchecked = commands.filter((c) => !checks.some(([re]) => re.test(c)));
    expect(unchecked).toEqual([]);
    expect(commands.length).toBeGreaterThanOrEqual(checks.length);
  });
  for (const cmd of commands) {
    it(cmd.length > 90 ? `${cmd.slice(0, 90)}...` : cmd, async () => {
      if (broken) throw new Error(`not run: an earlier line failed (${broken})`);
      try {
        const check = checks.find(([re]) => re.test(cmd));
        if (!check) throw new Error('no check for this line');
        const r = cmd.startsWith('cd ') ? { status: 0, stdout: '', stderr: '' } : sh(cmd);
        await check[1](cmd, r);
      } catch (e) {
        broken = cmd.slice(0, 60);
        throw e;
      }
    });
  }
  // A tool that can only signal, on a trial started through npx (npm exec, then sh, then the trial):
  // the signal goes to the pid the trial announces in `hello`, since npx passes on only SIGINT/SIGTERM.
  it.each(['SIGUSR2', 'SIGUSR1'] as const)('npx iccl-run --protocol: %s to the pid of hello prunes the trial (exit 3), and nothing of it listens on a port', async (sig) => {
    if (broken) throw new Error(`not run: an earlier line failed (${broken})`);
    const r = await signalledTrial(sig);
    expect(r.stderr).not.toContain('Debugger listening');
    expect(r.listening).toEqual([]);
    expect([r.code, r.result]).toEqual([3, expect.objectContaining({ type: 'result', status: 'pruned', step: 3 })]);
    expect(r.trialPid).not.toBe(r.npxPid);
  });
  afterAll(() => {
    if (!process.env.ICCL_KEEP_INSTALL_TEST) fs.rmSync(work, { recursive: true, force: true });
  });
});
