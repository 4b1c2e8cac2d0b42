import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mainClient, requireEnv, tmpDir, uniqueName } from './support/env';

describe('SIGINT', () => {
  test('Ctrl-C flushes what is queued, then the process ends as interrupted', async () => {
    const uri = requireEnv('ICCL_TEST_MLFLOW_URI');
    const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'fixtures', 'sigint-child.ts'), uri, uniqueName('sigint'), tmpDir('sigint')], {
      encoding: 'utf8',
      timeout: 120_000,
      cwd: path.join(__dirname, '..', '..', '..'),
    });
    expect(child.signal ?? child.status).toBe(child.signal ? 'SIGINT' : 130);
    const runId = child.stdout.trim().split('\n')[0];
    expect(runId).toMatch(/^[0-9a-f]{32}$/);
    const h = await mainClient().getMetricHistory(runId, 'loss');
    expect(h.map((m) => m.step)).toEqual(Array.from({ length: 500 }, (_, s) => s));
  });
});
