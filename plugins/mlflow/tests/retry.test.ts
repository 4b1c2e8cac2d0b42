import { MlflowClient } from '../src/client';
import { MlflowTrackingBackend } from '../src/backend';
import type { MlflowTracker } from '../src/tracker';
import { fetchTransport, type Transport } from '../src/transport';
import { FAST_RETRY, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

/** The real server, with log-batch answers replaced by failures on a schedule. */
function flakyClient(failures: number[]): { client: MlflowClient; calls: () => number } {
  let n = 0;
  const transport: Transport = async (req) => {
    if (req.url.endsWith('/runs/log-batch')) {
      const status = failures[n++];
      if (status !== undefined) return { status, text: JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: 'injected' }) };
    }
    return fetchTransport(req);
  };
  return { client: new MlflowClient({ trackingUri: requireEnv('ICCL_TEST_MLFLOW_URI'), credentials: {}, transport }), calls: () => n };
}

describe('retries', () => {
  test('429 and 503 are retried with backoff; nothing is spooled or lost', async () => {
    const { client, calls } = flakyClient([429, 503]);
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('retry'), spoolDir: tmpDir('spool'), logger: recordingLogger(), handleSigint: false, tracker: { retry: FAST_RETRY } });
    const t = (await backend.startRun({ name: 'r' })) as MlflowTracker;
    t.logMetrics({ a: 1 }, 0);
    await t.flush();
    expect(t.stats.retries).toBe(2);
    expect(t.stats.spooled).toBe(0);
    await t.end('FINISHED');
    expect(calls()).toBeGreaterThanOrEqual(3);
    expect((await client.getMetricHistory(t.runId, 'a')).map((m) => m.value)).toEqual([1]);
  });

  test('a 500 that outlives the retries is counted as failed, not spooled, and later items still go', async () => {
    const { client } = flakyClient([500, 500, 500]);
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('retry500'), spoolDir: tmpDir('spool'), logger, handleSigint: false, tracker: { retry: FAST_RETRY } });
    const t = (await backend.startRun({ name: 'r' })) as MlflowTracker;
    t.logMetrics({ a: 1 }, 0);
    await t.flush();
    t.logMetrics({ a: 2 }, 1);
    await t.end('FINISHED');
    expect(t.stats.spooled).toBe(0);
    expect(t.stats.failed).toBe(1);
    expect(logger.lines.some((l) => /after 3 tries/.test(l))).toBe(true);
    expect((await client.getMetricHistory(t.runId, 'a')).map((m) => m.value)).toEqual([2]);
  });
});
