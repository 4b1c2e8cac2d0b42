import * as fs from 'node:fs';
import * as path from 'node:path';
import { MlflowClient } from '../src/client';
import { MlflowApiError } from '../src/errors';
import { fetchTransport, type Transport } from '../src/transport';
import { mainClient, requireEnv, tmpDir, uniqueName } from './support/env';

/**
 * Re-encodes the real server's answers the way proto3-JSON servers do: every int64 field as a
 * string. The client must read both encodings the same.
 */
const int64AsStrings: Transport = async (req) => {
  const res = await fetchTransport(req);
  const text = res.text.replace(/"(timestamp|step|start_time|end_time|creation_time|last_update_time|file_size)":\s*(-?\d+)/g, '"$1": "$2"');
  return { ...res, text };
};

describe('MlflowClient against a real server', () => {
  const client = mainClient();

  test('experiment get-or-create by name is stable, and a missing one is undefined', async () => {
    const name = uniqueName('exp');
    expect(await client.getExperimentByName(name)).toBeUndefined();
    const id = await client.getOrCreateExperiment(name);
    expect(await client.getOrCreateExperiment(name)).toBe(id);
    expect((await client.getExperimentByName(name))?.experiment_id).toBe(id);
  });

  test('run create, log-batch, set-tag, update, search; NaN and step survive', async () => {
    const exp = await client.getOrCreateExperiment(uniqueName('runs'));
    const run = await client.createRun({ experimentId: exp, runName: 'r1', startTime: 1_700_000_000_000, tags: [{ key: 'k', value: 'v' }] });
    expect(run.info.status).toBe('RUNNING');
    expect(run.info.start_time).toBe(1_700_000_000_000);
    const id = run.info.run_id;
    await client.logBatch(id, {
      metrics: [
        { key: 'loss', value: 0.5, timestamp: 1_700_000_000_001, step: 0 },
        { key: 'loss', value: NaN, timestamp: 1_700_000_000_002, step: 1 },
        { key: 'loss', value: Infinity, timestamp: 1_700_000_000_003, step: 2 },
      ],
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 't', value: 'x' }],
    });
    await client.setTag(id, 'state', 'COMPLETE');
    const hist = await client.getMetricHistory(id, 'loss');
    expect(hist.map((m) => m.step)).toEqual([0, 1, 2]);
    expect(hist[0].value).toBe(0.5);
    expect(Number.isNaN(hist[1].value)).toBe(true);
    // MLflow's SQL store clamps +Infinity to the largest double (its own behaviour, not ours).
    expect(hist[2].value).toBe(Number.MAX_VALUE);
    const info = await client.updateRun({ runId: id, status: 'FINISHED', endTime: 1_700_000_000_100 });
    expect(info.status).toBe('FINISHED');
    expect(info.end_time).toBe(1_700_000_000_100);
    const found = await client.searchRuns({ experimentIds: [exp], filter: "tags.state = 'COMPLETE'" });
    expect(found.runs.map((r) => r.info.run_id)).toEqual([id]);
    const got = await client.getRun(id);
    expect(got.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
  });

  test('int64 fields read the same whether the server sends numbers or strings', async () => {
    const asStrings = new MlflowClient({ trackingUri: requireEnv('ICCL_TEST_MLFLOW_URI'), credentials: {}, transport: int64AsStrings });
    const exp = await client.getOrCreateExperiment(uniqueName('int64'));
    const run = await client.createRun({ experimentId: exp, runName: 'r', startTime: 1_700_000_000_000 });
    const big = 2 ** 40 + 3; // needs more than 32 bits
    await client.logBatch(run.info.run_id, { metrics: [{ key: 'm', value: 1.25, timestamp: 1_700_000_000_555, step: big }] });
    const a = await client.getMetricHistory(run.info.run_id, 'm');
    const b = await asStrings.getMetricHistory(run.info.run_id, 'm');
    expect(b).toEqual(a);
    expect(b[0]).toEqual({ key: 'm', value: 1.25, timestamp: 1_700_000_000_555, step: big });
    const r = await asStrings.getRun(run.info.run_id);
    expect(r.info.start_time).toBe(1_700_000_000_000);
    // Make sure the shim really sent strings (the test would be void otherwise).
    const raw = await int64AsStrings({ method: 'GET', url: `${client.trackingUri}/api/2.0/mlflow/runs/get?run_id=${run.info.run_id}`, headers: {}, timeoutMs: 5000 });
    expect(raw.text).toMatch(/"start_time": "1700000000000"/);
  });

  test('log-inputs records a dataset with its context', async () => {
    const exp = await client.getOrCreateExperiment(uniqueName('inputs'));
    const run = await client.createRun({ experimentId: exp, runName: 'r' });
    await client.logInputs(run.info.run_id, [{ dataset: { name: 'cifar10-lt', digest: 'abc123', source_type: 'local', source: '{"uri":"/data/x"}' }, tags: [{ key: 'mlflow.data.context', value: 'train' }] }]);
    const got = await client.getRun(run.info.run_id);
    expect(got.inputs.dataset_inputs).toHaveLength(1);
    expect(got.inputs.dataset_inputs[0].dataset.digest).toBe('abc123');
    expect(got.inputs.dataset_inputs[0].tags).toEqual([{ key: 'mlflow.data.context', value: 'train' }]);
  });

  test('artifacts go through the proxy, streamed, into a normalised folder', async () => {
    const exp = await client.getOrCreateExperiment(uniqueName('art'));
    const run = await client.createRun({ experimentId: exp, runName: 'r' });
    const dir = tmpDir('art');
    const file = path.join(dir, 'report.txt');
    fs.writeFileSync(file, 'hello artifacts\n');
    // A 3 MB file checks the streamed body arrives whole.
    const bigFile = path.join(dir, 'big.bin');
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    big.write('end', big.length - 3);
    fs.writeFileSync(bigFile, big);
    expect(await client.uploadArtifact(run.info.artifact_uri, file, 'reports/./sub/../final')).toBe('reports/final/report.txt');
    await client.uploadArtifact(run.info.artifact_uri, bigFile, 'blobs');
    expect(await client.downloadArtifactText(run.info.artifact_uri, 'reports/final/report.txt')).toBe('hello artifacts\n');
    const listed = await client.listArtifacts(run.info.run_id, 'blobs');
    expect(listed).toEqual([{ path: 'blobs/big.bin', is_dir: false, file_size: big.length }]);
    await expect(client.uploadArtifact(run.info.artifact_uri, file, '../../escape')).rejects.toThrow(/escapes with '\.\.'/);
    await expect(client.uploadArtifact(run.info.artifact_uri, file, '/abs')).rejects.toThrow(/absolute/);
  });

  test('errors carry MLflow error codes; an unreachable server is retryable', async () => {
    const e = await client.getRun('0123456789abcdef0123456789abcdef').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MlflowApiError);
    expect((e as MlflowApiError).notFound).toBe(true);
    expect((e as MlflowApiError).retryable).toBe(false);
    const down = new MlflowClient({ trackingUri: 'http://127.0.0.1:9', credentials: {}, timeoutMs: 2000 });
    const e2 = await down.getExperimentByName('x').catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(MlflowApiError);
    expect((e2 as MlflowApiError).retryable).toBe(true);
    expect((e2 as Error).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
    expect(await down.health()).toBe(false);
  });

  test('a non-http tracking URI is refused in one line naming the value', () => {
    expect(() => new MlflowClient({ trackingUri: 'file:///tmp/mlruns' })).toThrow(/MLFLOW_TRACKING_URI "file:\/\/\/tmp\/mlruns": expected an http\(s\):\/\/ URL/);
  });
});
