import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { perClassCsv, shotAccuracy, writePerClassCsv } from '../src/eval';
import { rngFor } from '../src/data/rng';

const PY = resolve(__dirname, '../../../.venv/bin/python');

describe('shotAccuracy', () => {
  test('hand-computed example', () => {
    // train counts: class 0 many (150), class 1 medium (50), class 2 few (5), class 3 medium (100: not > 100)
    const trainCounts = [150, 50, 5, 100];
    const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 2, 2, 2, 3]);
    const pred = Int32Array.from([0, 0, 0, 1, 1, 0, 2, 0, 0, 3]);
    const r = shotAccuracy(pred, labels, trainCounts);
    expect(r.perClass).toEqual([3 / 4, 1 / 2, 1 / 3, 1]);
    expect(r.top1).toBeCloseTo(6 / 10, 12); // 3 + 1 + 1 + 1 correct of 10
    expect(r.many).toBeCloseTo(0.75, 12);
    expect(r.medium).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(r.few).toBeCloseTo(1 / 3, 12);
    expect(r.groups).toEqual({ many: [0], medium: [1, 3], few: [2] });
  });

  test('empty group is NaN; class without test images is NaN and left out of its group', () => {
    const r = shotAccuracy(Int32Array.from([0, 1]), Int32Array.from([0, 0]), [500, 300], { many: 100, few: 20 });
    expect(r.few).toBeNaN();
    expect(r.medium).toBeNaN();
    expect(r.perClass[1]).toBeNaN();
    expect(r.many).toBeCloseTo(0.5, 12); // class 1 has no test images: the mean is over class 0 only
    expect(() => shotAccuracy(Int32Array.from([0]), Int32Array.from([0, 1]), [1, 1])).toThrow(/expected equal lengths/);
    expect(() => shotAccuracy(Int32Array.from([0]), Int32Array.from([7]), [1, 1])).toThrow(/labels\[0\] = 7/);
  });

  test('matches a numpy reference on random data with custom thresholds', () => {
    expect(existsSync(PY)).toBe(true); // the reference needs the workspace venv; fail loudly if absent
    const rng = rngFor(99);
    const K = 37;
    const trainCounts = Array.from({ length: K }, () => Math.floor(rng() * 300));
    const n = 3000;
    const labels = Int32Array.from({ length: n }, () => Math.floor(rng() * K));
    const pred = Int32Array.from(labels, (y) => (rng() < 0.6 ? y : Math.floor(rng() * K)));
    const th = { many: 150, few: 40 };
    const script = `
import json, sys, numpy as np
d = json.load(sys.stdin)
y = np.array(d['labels']); p = np.array(d['pred']); tc = np.array(d['trainCounts'])
K = len(tc); acc = []
for c in range(K):
    m = y == c
    acc.append(float((p[m] == c).mean()) if m.any() else float('nan'))
acc = np.array(acc)
def grp(mask):
    v = acc[mask & ~np.isnan(acc)]
    return float(v.mean()) if v.size else None
print(json.dumps({'top1': float((p == y).mean()), 'many': grp(tc > d['many']), 'medium': grp((tc >= d['few']) & (tc <= d['many'])), 'few': grp(tc < d['few'])}))
`;
    const out = execFileSync(PY, ['-c', script], { input: JSON.stringify({ labels: [...labels], pred: [...pred], trainCounts, ...th }) }).toString();
    const ref = JSON.parse(out) as Record<string, number | null>;
    const r = shotAccuracy(pred, labels, trainCounts, th);
    for (const k of ['top1', 'many', 'medium', 'few'] as const) {
      expect(ref[k]).not.toBeNull();
      expect(r[k]).toBeCloseTo(ref[k] as number, 12);
    }
  });

  test('per-class CSV', async () => {
    const r = shotAccuracy(Int32Array.from([0, 1, 1]), Int32Array.from([0, 1, 0]), [200, 10, 30]);
    const csv = perClassCsv(r, [200, 10, 30], ['plane', 'car, red', 'bird']);
    expect(csv).toBe('class,name,group,train_count,test_count,accuracy\n0,plane,many,200,2,0.5\n1,"car, red",few,10,1,1\n2,bird,medium,30,0,\n');
    const dir = mkdtempSync(join(tmpdir(), 'csv-'));
    await writePerClassCsv(join(dir, 'a.csv'), r, [200, 10, 30], ['plane', 'car, red', 'bird']);
    expect(readFileSync(join(dir, 'a.csv'), 'utf8')).toBe(csv);
  });
});
