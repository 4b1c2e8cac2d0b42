import * as fs from 'node:fs';
import * as path from 'node:path';
import { MlflowClient } from '../src/client';
import { MlflowTrackingBackend } from '../src/backend';
import { fetchTransport, type HttpRequest, type Transport } from '../src/transport';
import { PATIENT, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

/** Tests against `mlflow server --app-name basic-auth` (started by globalSetup). */
describe('auth', () => {
  const uri = () => requireEnv('ICCL_TEST_MLFLOW_AUTH_URI');
  const user = () => requireEnv('ICCL_TEST_MLFLOW_AUTH_USER');
  const password = () => requireEnv('ICCL_TEST_MLFLOW_AUTH_PASSWORD');

  test('right basic credentials: runs, metrics and artifacts go through', async () => {
    const client = new MlflowClient({ trackingUri: uri(), credentials: { username: user(), password: password() } });
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('auth'), spoolDir: tmpDir('spool'), logger: recordingLogger(), handleSigint: false, tracker: PATIENT });
    const t = await backend.startRun({ name: 'authed' });
    t.logParams({ a: 1 });
    t.logMetrics({ m: 0.5 }, 3);
    const f = path.join(tmpDir('auth'), 'x.txt');
    fs.writeFileSync(f, 'x');
    await t.logArtifact(f, 'd');
    await t.end('FINISHED');
    const run = await client.getRun(t.runId);
    expect(run.info.status).toBe('FINISHED');
    expect(run.data.metrics).toEqual([{ key: 'm', value: 0.5, timestamp: expect.any(Number), step: 3 }]);
    expect((await client.listArtifacts(t.runId, 'd')).map((x) => x.path)).toEqual(['d/x.txt']);
  });

  test('wrong credentials: startRun fails with one clear line that holds no secret', async () => {
    const wrong = 'Wr0ng-s3cret-pw';
    const requests: HttpRequest[] = [];
    const transport: Transport = (r) => (requests.push(r), fetchTransport(r));
    const client = new MlflowClient({ trackingUri: uri(), credentials: { username: user(), password: wrong }, transport });
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('denied'), spoolDir: tmpDir('spool'), logger, handleSigint: false, tracker: PATIENT });
    const err = (await backend.startRun({ name: 'trial-0001' }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^cannot start MLflow run "trial-0001": .*authentication failed at http:\/\/127\.0\.0\.1:\d+: check MLFLOW_TRACKING_USERNAME\/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN \(HTTP 401, UNAUTHENTICATED\)$/);
    expect(err.message.split('\n')).toHaveLength(1);
    const b64 = Buffer.from(`${user()}:${wrong}`).toString('base64');
    for (const s of [wrong, b64]) {
      expect(err.message).not.toContain(s);
      expect(logger.lines.join('\n')).not.toContain(s);
    }
    // 401 is not retried: one request, no hammering of the server.
    expect(requests).toHaveLength(1);
    expect(requests[0].headers.authorization).toBe(`Basic ${b64}`);
  });

  test('no credentials at all: the server refuses, the message says which variables to set', async () => {
    const client = new MlflowClient({ trackingUri: uri(), credentials: {} });
    await expect(client.getOrCreateExperiment('x')).rejects.toThrow(/authentication failed .*MLFLOW_TRACKING_USERNAME/);
  });

  test('credentials in the URI are moved to the header and never shown', async () => {
    const u = new URL(uri());
    u.username = user();
    u.password = password();
    const client = new MlflowClient({ trackingUri: u.toString(), credentials: {} });
    expect(client.trackingUri).not.toContain(password());
    expect(await client.getOrCreateExperiment(uniqueName('uri-creds'))).toMatch(/^\d+$/);
    u.password = 'nope-nope';
    const bad = new MlflowClient({ trackingUri: u.toString(), credentials: {} });
    const e = (await bad.getOrCreateExperiment('x').catch((x: unknown) => x)) as Error;
    expect(e.message).toMatch(/authentication failed/);
    expect(e.message).not.toContain('nope-nope');
  });

  test('MLFLOW_TRACKING_TOKEN is sent as a bearer token', async () => {
    const seen: HttpRequest[] = [];
    const client = new MlflowClient({ trackingUri: requireEnv('ICCL_TEST_MLFLOW_URI'), credentials: { token: 'tok-xyz' }, transport: (r) => (seen.push(r), fetchTransport(r)) });
    await client.getOrCreateExperiment(uniqueName('bearer'));
    expect(seen[0].headers.authorization).toBe('Bearer tok-xyz');
  });
});
