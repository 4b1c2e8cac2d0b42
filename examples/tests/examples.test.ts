import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonl } from '@iccl/trainer-api';
import { execFileSync } from 'node:child_process';
import { main as customTracker } from '../custom-tracker';

jest.setTimeout(600_000);

describe('worked examples', () => {
  it('plain script: trains ICCL with the JSON-lines tracker, no driver, no MLflow', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ex-plain-'));
    // As a user runs it: a plain Node process (also keeps TensorFlow's typed arrays out of jest's sandbox).
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '../plain-script.ts'), dir], { encoding: 'utf8' });
    const metrics = JSON.parse(/^done: (.*)$/m.exec(out)![1]!) as Record<string, number>;
    for (const k of ['top1', 'many', 'medium', 'few']) {
      expect(metrics[k]).toBeGreaterThanOrEqual(0);
      expect(metrics[k]).toBeLessThanOrEqual(1);
    }
    const recs = readJsonl(path.join(dir, 'run.jsonl'));
    expect(recs.find((r) => r.kind === 'params')).toMatchObject({ params: { dataset: 'synthetic', model: 'small-cnn' } });
    const evalSteps = recs.filter((r) => r.kind === 'metrics' && 'val/top1' in r.metrics);
    expect(evalSteps.length).toBeGreaterThanOrEqual(4); // 4 stage-1 epochs + 1 cRT epoch, validated every epoch
    // test once at the end (and once after stage 1, for the stage-1 baseline)
    expect(recs.filter((r) => r.kind === 'metrics' && 'test/top1' in r.metrics)).toHaveLength(1);
    expect(recs.filter((r) => r.kind === 'metrics' && 'stage1_test/top1' in r.metrics)).toHaveLength(1);
    expect(recs[recs.length - 1]).toMatchObject({ kind: 'end', status: 'FINISHED' });
  });

  it('custom tracker: the driver runs ICCL trials and a user-written tracker receives their metrics', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ex-custom-'));
    const csv = await customTracker(dir);
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n').map((l) => l.split(','));
    const trials = new Set(rows.filter((r) => r[2] === 'val/top1').map((r) => r[0]));
    expect(trials.size).toBe(2);
    const ends = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    expect(ends.filter((e) => e.status === 'FINISHED').length).toBeGreaterThanOrEqual(2);
  });
});
