import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonl } from '@iccl/trainer-api';

const CLI = path.join(__dirname, '../src/cli.ts');

function run(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', cwd: path.join(__dirname, '../../..') });
}

describe('iccl-run CLI', () => {
  it('runs the toy plugin and writes a JSON-lines log with params and metrics', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-'));
    const r = run(['@iccl/toy', '--params', '{"x": 1, "epochs": 2}', '--set', 'y=-2', '--tracker', `jsonl:${dir}`, '--run-id', 'r1', '--work-dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ run: 'r1', metrics: { loss: 2.5, target: 0 } });
    const recs = readJsonl(path.join(dir, 'r1.jsonl'));
    const params = recs.find((x) => x.kind === 'params');
    expect(params).toMatchObject({ params: { x: 1, y: -2, epochs: 2 } });
    const steps = recs.filter((x) => x.kind === 'metrics' && x.step !== undefined).map((x) => (x.kind === 'metrics' ? x.metrics.loss : NaN));
    expect(steps).toEqual([5, 2.5]);
    expect(recs[recs.length - 1]).toMatchObject({ kind: 'end', status: 'FINISHED' });
  });

  it('a bad parameter value exits non-zero with one clear line', () => {
    const r = run(['@iccl/toy', '--set', 'x=9', '--tracker', 'none']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: parameter "x": got 9, expected a finite number in [-5, 5]\n');
  });

  it('an unknown plugin package says what to do', () => {
    const r = run(['@iccl/no-such-plugin', '--tracker', 'none']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: plugin "@iccl\/no-such-plugin": package @iccl\/no-such-plugin is not installed/);
  });
});
