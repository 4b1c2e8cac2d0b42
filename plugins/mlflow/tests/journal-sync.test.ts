import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createMlflowBackend } from '../src/create';
import { JournalTrackingBackend } from '../src/journal-backend';
import { sync } from '../src/sync';
import { main as syncCli } from '../src/sync-cli';
import { readRecords } from '../src/records';
import { mainClient, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

const tagsOf = (tags: { key: string; value: string }[]) => Object.fromEntries(tags.map((t) => [t.key, t.value]));

describe('offline journal (no mlflow installed) + sync', () => {
  test('a study written offline replays into a server; replaying twice creates the runs once', async () => {
    const dir = tmpDir('journal');
    const logger = recordingLogger();
    const saved = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    const backend = await createMlflowBackend({ dir, mlflowBin: null, logger, experimentName: uniqueName('offline') });
    if (saved !== undefined) process.env.MLFLOW_TRACKING_URI = saved;
    expect(backend).toBeInstanceOf(JournalTrackingBackend);
    const study = await backend.startRun({ name: 'study-off' });
    const art = path.join(dir, 'cm.txt');
    fs.writeFileSync(art, 'matrix');
    for (let n = 0; n < 2; n++) {
      const t = await backend.startRun({ name: `trial-000${n}`, parentRunId: study.runId, tags: { 'iccl.trial.number': String(n) } });
      t.logParams({ lr: n + 1, long: 'x'.repeat(6500) });
      for (let s = 0; s < 40; s++) t.logMetrics({ loss: s + n / 10, nan: NaN }, s, 1_700_000_000_000 + s);
      t.logInput({ name: 'toy', digest: 'abc', source: '/d', context: 'eval' });
      await t.logArtifact(art, 'eval');
      await t.end(n === 0 ? 'FINISHED' : 'KILLED');
    }
    await study.end('FINISHED');
    await backend.close();
    const file = path.join(dir, 'mlflow-journal.jsonl');
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'mlruns'))).toBe(false);
    expect(logger.lines.some((l) => l.includes(`sync-cli.ts ${file} --tracking-uri`))).toBe(true);
    fs.rmSync(art); // the journal kept its own copy

    const client = mainClient();
    const r1 = await sync(file, { client });
    expect(r1.runsCreated).toBe(3);
    const r2 = await sync(file, { client });
    expect(r2.runsCreated).toBe(0);
    expect(r2.runsFound).toBe(3);
    expect(r2.applied).toBe(0);

    const first = readRecords(file).find((r) => r.record.op === 'run')!.record as { experiment: string };
    const exp = (await client.getExperimentByName(first.experiment))!;
    const runs = (await client.searchRuns({ experimentIds: [exp.experiment_id] })).runs;
    expect(runs).toHaveLength(3);
    const parent = runs.find((r) => r.info.run_name === 'study-off')!;
    const kids = runs.filter((r) => tagsOf(r.data.tags)['mlflow.parentRunId'] === parent.info.run_id);
    expect(kids.map((r) => r.info.run_name).sort()).toEqual(['trial-0000', 'trial-0001']);
    const k1 = kids.find((r) => r.info.run_name === 'trial-0001')!;
    expect(k1.info.status).toBe('KILLED');
    expect(k1.info.start_time).toBeLessThan(Date.now());
    const loss = await client.getMetricHistory(k1.info.run_id, 'loss');
    expect(loss.map((m) => [m.step, m.value])).toEqual(Array.from({ length: 40 }, (_, s) => [s, s + 0.1]));
    const nan = await client.getMetricHistory(k1.info.run_id, 'nan');
    expect(nan).toHaveLength(40);
    expect(nan.every((m) => Number.isNaN(m.value))).toBe(true);
    expect(tagsOf(k1.data.params).lr).toBe('2');
    expect(tagsOf(k1.data.tags)['iccl.oversize.params.long']).toBe('oversize/params/long.txt');
    expect(await client.downloadArtifactText(k1.info.artifact_uri, 'eval/cm.txt')).toBe('matrix');
    expect(await client.downloadArtifactText(k1.info.artifact_uri, 'oversize/params/long.txt')).toBe('x'.repeat(6500));
    expect(k1.inputs.dataset_inputs).toHaveLength(1);
  });

  test('the CLI replays a journal and reports bad input in one line naming file and line', async () => {
    const dir = tmpDir('journal-cli');
    const backend = new JournalTrackingBackend({ file: path.join(dir, 'j.jsonl'), experimentName: uniqueName('cli'), logger: recordingLogger() });
    const t = await backend.startRun({ name: 'solo' });
    t.logMetrics({ a: 1 }, 0);
    await t.end('FINISHED');
    await backend.close();
    const uri = requireEnv('ICCL_TEST_MLFLOW_URI');
    const out = execFileSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, '..', 'src', 'sync-cli.ts'), path.join(dir, 'j.jsonl'), '--tracking-uri', uri], { encoding: 'utf8' });
    expect(out).toMatch(/1 runs created, 0 already there, \d+ records applied, 0 skipped/);

    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"op":"header","id":"x","version":1,"created":1,"kind":"journal"}\n{"op":"frobnicate"}\n{"op":"end"}\n');
    const errors: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (errors.push(String(s)), true));
    const code = await syncCli(['node', 'sync', bad, '--tracking-uri', uri]);
    spy.mockRestore();
    expect(code).toBe(1);
    expect(errors.join('')).toMatch(/bad\.jsonl:2: op "frobnicate" is not one of header, run, batch, inputs, artifact, end/);
    const code2 = await syncCli(['node', 'sync', bad]);
    expect(code2).toBe(process.env.MLFLOW_TRACKING_URI ? 1 : 2);
  });
});
