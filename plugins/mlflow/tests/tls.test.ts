import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { MlflowClient } from '../src/client';
import { credentialsFromEnv } from '../src/credentials';
import { requireEnv, tmpDir, uniqueName } from './support/env';

/**
 * MLFLOW_TRACKING_INSECURE_TLS: a TLS front (self-signed certificate, made with openssl) that
 * forwards to the real test server.
 */
describe('TLS', () => {
  let server: https.Server;
  let uri: string;

  beforeAll(async () => {
    const dir = tmpDir('tls');
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const target = requireEnv('ICCL_TEST_MLFLOW_URI');
    server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const headers: Record<string, string> = {};
        if (req.headers['content-type']) headers['content-type'] = String(req.headers['content-type']);
        const r = await fetch(target + req.url, { method: req.method, headers, body });
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    uri = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('a self-signed server is refused by default, with a retryable network error', async () => {
    const client = new MlflowClient({ trackingUri: uri, credentials: {}, timeoutMs: 5000 });
    await expect(client.getOrCreateExperiment('x')).rejects.toThrow(/cannot reach https:\/\/127\.0\.0\.1:\d+ \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
  });

  test('MLFLOW_TRACKING_INSECURE_TLS=true accepts it, and the REST calls work through it', async () => {
    const client = new MlflowClient({ trackingUri: uri, credentials: credentialsFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: 'true' }) });
    const exp = await client.getOrCreateExperiment(uniqueName('tls'));
    const run = await client.createRun({ experimentId: exp, runName: 'over-tls' });
    await client.logBatch(run.info.run_id, { metrics: [{ key: 'm', value: 2, timestamp: 1, step: 5 }] });
    expect((await client.getMetricHistory(run.info.run_id, 'm')).map((m) => m.step)).toEqual([5]);
    const f = path.join(tmpDir('tls-art'), 'a.txt');
    fs.writeFileSync(f, 'via tls');
    await client.uploadArtifact(run.info.artifact_uri, f, 'x');
    expect(await client.downloadArtifactText(run.info.artifact_uri, 'x/a.txt')).toBe('via tls');
  });
});
