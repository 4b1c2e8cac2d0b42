import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { createMlflowBackend } from '../src/create';
import { MlflowTrackingBackend } from '../src/backend';
import { PATIENT, recordingLogger, requireEnv, tmpDir } from './support/env';

describe('createMlflowBackend without MLFLOW_TRACKING_URI', () => {
  test('starts a local server on sqlite:///<dir>/mlflow.db, logs through it, stops it; MLflow reads the store afterwards', async () => {
    const dir = tmpDir('local');
    const logger = recordingLogger();
    const saved = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    let backend;
    try {
      backend = await createMlflowBackend({ dir, logger, mlflowBin: requireEnv('ICCL_TEST_MLFLOW_BIN'), handleSigint: false, tracker: PATIENT });
    } finally {
      if (saved !== undefined) process.env.MLFLOW_TRACKING_URI = saved;
    }
    expect(backend).toBeInstanceOf(MlflowTrackingBackend);
    const uri = (backend as MlflowTrackingBackend).client.trackingUri;
    expect(uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const t = await backend.startRun({ name: 'local-run' });
    t.logMetrics({ acc: 0.75 }, 2);
    const f = path.join(dir, 'note.txt');
    fs.writeFileSync(f, 'n');
    await t.logArtifact(f);
    await t.end('FINISHED');
    await backend.close();
    expect((await fetch(`${uri}/health`).then((r) => r.status).catch(() => 'down'))).toBe('down');
    expect(fs.existsSync(path.join(dir, 'mlflow.db'))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'mlartifacts')).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dir, 'mlruns'))).toBe(false);
    expect(logger.lines.some((l) => l.includes(`cd ${dir} && mlflow ui`))).toBe(true);
    // What `mlflow ui` in that folder would show: MLflow's own Python client on the same store.
    const py = path.join(path.dirname(requireEnv('ICCL_TEST_MLFLOW_BIN')), 'python');
    const out = execFileSync(
      py,
      ['-c', 'import mlflow,sys; r=mlflow.search_runs(search_all_experiments=True, output_format="list"); print(len(r), r[0].info.run_name, r[0].info.status, r[0].data.metrics["acc"])'],
      { cwd: dir, env: { ...process.env, MLFLOW_TRACKING_URI: `sqlite:///${dir}/mlflow.db` }, encoding: 'utf8' },
    );
    expect(out.trim().split('\n').pop()).toBe('1 local-run FINISHED 0.75');
  }, 600_000); // a cold server start on a loaded machine takes minutes (seconds on a quiet one)

  test('a file-store URI is refused in one line', async () => {
    await expect(createMlflowBackend({ trackingUri: './mlruns', logger: recordingLogger() })).rejects.toThrow(/MLFLOW_TRACKING_URI ".\/mlruns": expected http\(s\):\/\/host:port .* the mlruns\/ file store is not supported/);
  });
});

describe('the local server of --tracking mlflow:sqlite:///OTHER_DIR/mlflow.db', () => {
  test('keeps its artifacts beside the store, and ends with its driver even on SIGKILL', async () => {
    const cwd = tmpDir('local-cwd');
    const other = tmpDir('local-store');
    // One process (node with tsx as loader, not the tsx CLI, which would run it in a second one).
    const loader = pathToFileURL(require.resolve('tsx')).href;
    const child = spawn(process.execPath, ['--import', loader, path.join(__dirname, 'fixtures', 'local-server-child.ts'), `sqlite:///${other}/mlflow.db`, requireEnv('ICCL_TEST_MLFLOW_BIN')], {
      cwd,
      // tsx finds the workspace's source paths from the current folder up; this one is outside the repository.
      env: { ...process.env, TSX_TSCONFIG_PATH: path.resolve(__dirname, '../../../tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const deadline = Date.now() + 550_000;
    while (!/ready \S+ \d+/.test(out) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const m = /ready (\S+) (\d+)/.exec(out);
    if (!m) {
      child.kill('SIGKILL');
      throw new Error(`the child did not start its server:\n${out.slice(-2000)}`);
    }
    const [, uri, pidText] = m;
    const pid = Number(pidText);
    expect(fs.readdirSync(path.join(other, 'mlartifacts')).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(cwd, 'mlartifacts'))).toBe(false);
    expect(fs.existsSync(path.join(other, 'mlflow.db'))).toBe(true);

    child.kill('SIGKILL'); // no handler runs: only the watchdog can end the server
    // Processes of the server's group that still run (a zombie waiting for init to reap it has ended).
    const groupAlive = () =>
      fs.readdirSync('/proc').some((p) => {
        if (!/^\d+$/.test(p)) return false;
        try {
          const [state, , pgrp] = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
          return Number(pgrp) === pid && state !== 'Z';
        } catch {
          return false;
        }
      });
    const until = Date.now() + 30_000;
    while (groupAlive() && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(groupAlive()).toBe(false);
    expect(await fetch(`${uri}/health`).then((r) => r.status).catch(() => 'down')).toBe('down');
  }, 600_000);
});
