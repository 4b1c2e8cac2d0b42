import * as fs from 'node:fs';
import * as path from 'node:path';
import { MlflowClient } from '../src/client';
import { MlflowTrackingBackend } from '../src/backend';
import { LocalMlflowServer } from '../src/local-server';
import type { MlflowTracker } from '../src/tracker';
import { sync } from '../src/sync';
import { readRecords } from '../src/records';
import { FAST_RETRY, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

/**
 * The server goes away mid-run and comes back on the same port and store. This test owns its
 * server (it must stop and restart it), so it is one extra start for the test run.
 */
describe('outage', () => {
  let server: LocalMlflowServer;
  const storeDir = tmpDir('outage-store');

  beforeAll(async () => {
    server = await LocalMlflowServer.start({ dir: storeDir, bin: requireEnv('ICCL_TEST_MLFLOW_BIN') });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('stop the server mid-run, keep logging, restart it: every metric point present exactly once', async () => {
    const client = new MlflowClient({ trackingUri: server.uri, credentials: {}, timeoutMs: 3000 });
    const spoolDir = tmpDir('outage-spool');
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('outage'), spoolDir, logger, handleSigint: false, tracker: { flushIntervalMs: 100, retry: FAST_RETRY, probeIntervalMs: 300, endGraceMs: 60_000 } });
    const t = (await backend.startRun({ name: 'trial-0001' })) as MlflowTracker;
    const logStep = (s: number) => t.logMetrics({ loss: 1 / (s + 1), acc: s / 100 }, s, 1_700_000_000_000 + s);
    t.logParams({ lr: 0.01 });
    for (let s = 0; s < 50; s++) logStep(s);
    await t.flush();

    await server.stop();
    const before = Date.now();
    for (let s = 50; s < 100; s++) logStep(s); // returns at once although the server is gone
    expect(Date.now() - before).toBeLessThan(500);
    await t.flush();
    expect(t.spooling).toBe(true);
    expect(fs.existsSync(t.spoolFile)).toBe(true);
    const artifact = path.join(tmpDir('outage-art'), 'ckpt.txt');
    fs.writeFileSync(artifact, 'during the outage');
    await t.logArtifact(artifact, 'ckpt');
    fs.rmSync(artifact); // the spool kept its own copy
    for (let s = 100; s < 120; s++) logStep(s);
    await t.flush();

    await server.launch(); // same port, same sqlite store
    for (let s = 120; s < 150; s++) logStep(s);
    await t.end('FINISHED');
    await backend.close();

    expect(t.spooling).toBe(false);
    expect(fs.existsSync(t.spoolFile)).toBe(false);
    expect(t.stats.failed).toBe(0);
    expect(t.stats.spooled).toBeGreaterThan(0);
    expect(t.stats.replayed).toBe(t.stats.spooled);
    for (const key of ['loss', 'acc']) {
      const h = await client.getMetricHistory(t.runId, key);
      const steps = h.map((m) => m.step).sort((a, b) => a - b);
      expect(steps).toEqual(Array.from({ length: 150 }, (_, s) => s));
    }
    const loss = await client.getMetricHistory(t.runId, 'loss');
    for (const m of loss) expect(m.value).toBeCloseTo(1 / (m.step + 1), 12);
    const run = await client.getRun(t.runId);
    expect(run.info.status).toBe('FINISHED');
    expect(await client.downloadArtifactText(run.info.artifact_uri, 'ckpt/ckpt.txt')).toBe('during the outage');
    expect(logger.lines.some((l) => /unreachable .*spooling to/.test(l))).toBe(true);
    expect(logger.lines.some((l) => /is back; replayed the spool/.test(l))).toBe(true);
  });

  test('server still down at end: the spool stays, and sync replays it (twice = once)', async () => {
    const client = new MlflowClient({ trackingUri: server.uri, credentials: {}, timeoutMs: 3000 });
    const spoolDir = tmpDir('outage-spool2');
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('outage2'), spoolDir, logger, handleSigint: false, tracker: { flushIntervalMs: 100, retry: FAST_RETRY, probeIntervalMs: 300, endGraceMs: 500 } });
    const t = (await backend.startRun({ name: 'trial-0002' })) as MlflowTracker;
    for (let s = 0; s < 10; s++) t.logMetrics({ m: s }, s, 1_700_000_000_000 + s);
    await t.flush();
    await server.stop();
    for (let s = 10; s < 30; s++) t.logMetrics({ m: s }, s, 1_700_000_000_000 + s);
    await t.end('FAILED', 'killed');
    expect(fs.existsSync(t.spoolFile)).toBe(true);
    expect(logger.lines.some((l) => l.includes(`sync-cli.ts ${t.spoolFile}`))).toBe(true);
    expect(readRecords(t.spoolFile).map((r) => r.record.op)).toContain('end');
    await server.launch();
    const r1 = await sync(t.spoolFile, { client });
    expect(r1.runsCreated).toBe(0); // the live run is found again by id and key
    expect(r1.runIds[t.runKey]).toBe(t.runId);
    const r2 = await sync(t.spoolFile, { client });
    expect(r2.applied).toBe(0);
    expect(r2.skipped).toBe(r1.applied);
    const h = await client.getMetricHistory(t.runId, 'm');
    expect(h.map((m) => m.step).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, s) => s));
    const run = await client.getRun(t.runId);
    expect(run.info.status).toBe('FAILED');
    await backend.close();
  });
});
