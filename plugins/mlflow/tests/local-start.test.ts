import { createMlflowBackend } from '../src/create';
import type { MlflowTrackingBackend } from '../src/backend';
import type { MlflowTracker } from '../src/tracker';
import { FAST_RETRY, recordingLogger, requireEnv, tmpDir } from './support/env';

describe('a local server the backend starts itself', () => {
  test('while it starts, the first line says so and runs queue without a warning; they land once it answers', async () => {
    const dir = tmpDir('local-start');
    const logger = recordingLogger();
    const saved = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    let backend: MlflowTrackingBackend;
    try {
      // startWaitMs and waitMs far below a cold start: the run finds the server away before it answers.
      const tracker = { retry: FAST_RETRY, startWaitMs: 100, waitMs: 100, flushIntervalMs: 100, probeIntervalMs: 300, closeGraceMs: 120_000 };
      backend = (await createMlflowBackend({ dir, logger, mlflowBin: requireEnv('ICCL_TEST_MLFLOW_BIN'), handleSigint: false, tracker })) as MlflowTrackingBackend;
    } finally {
      if (saved !== undefined) process.env.MLFLOW_TRACKING_URI = saved;
    }
    const t = (await backend.startRun({ name: 'early' })) as MlflowTracker;
    t.logMetrics({ loss: 0.5 }, 0);
    await t.end('FINISHED');
    expect(t.settled).toBe(false); // the server did not answer yet: the run waits for it
    expect(await t.whenSettled(500_000)).toBe(true);
    const uri = backend.client.trackingUri;
    const run = await backend.client.getRun(t.runId);
    await backend.close();
    expect(run.info.status).toBe('FINISHED');
    expect(logger.lines[0]).toMatch(/^info: starting a local MLflow server at http:\/\/127\.0\.0\.1:\d+ .*; runs are queued until it answers$/);
    expect(logger.lines[0]).toContain(uri);
    expect(logger.lines.filter((l) => l.startsWith('warn') || l.startsWith('error'))).toEqual([]);
  }, 600_000); // a cold server start on a loaded machine takes minutes
});
