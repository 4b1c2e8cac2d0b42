import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createMlflowBackend } from '../src/create';
import { MlflowTrackingBackend } from '../src/backend';
import { recordingLogger, requireEnv, tmpDir } from './support/env';

describe('createMlflowBackend without MLFLOW_TRACKING_URI', () => {
  test('starts a local server on sqlite:///<dir>/mlflow.db, logs through it, stops it; MLflow reads the store afterwards', async () => {
    const dir = tmpDir('local');
    const logger = recordingLogger();
    const saved = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    let backend;
    try {
      backend = await createMlflowBackend({ dir, logger, mlflowBin: requireEnv('ICCL_TEST_MLFLOW_BIN'), handleSigint: false });
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
  });

  test('a file-store URI is refused in one line', async () => {
    await expect(createMlflowBackend({ trackingUri: './mlruns', logger: recordingLogger() })).rejects.toThrow(/MLFLOW_TRACKING_URI ".\/mlruns": expected http\(s\):\/\/host:port .* the mlruns\/ file store is not supported/);
  });
});
