import type { MethodsProtocol } from '../protocol';
import type { StageResult, UnitResult } from '../result';
import { byMethod, cell, formatDiff, paired, sentence, verdict } from '../summary';

const P: MethodsProtocol = {
  name: 'p',
  description: 'a protocol for the table tests, no training',
  params: {},
  seeds: [0, 1, 2],
  methods: [
    { id: 'ce-crt', label: 'CE + cRT', plugin: 'crt', stage1As: { id: 'ce', label: 'CE' } },
    { id: 'iccl-crt', label: 'ICCL + cRT', plugin: 'iccl' },
  ],
  paired: { a: 'iccl-crt', b: 'ce-crt' },
  ablation: { seeds: [0], methods: [{ id: 'iccl-no-icc', label: 'no ICC', plugin: 'iccl', set: { wIcc: 0 } }] },
};

const stage = (top1: number, few: number): StageResult => ({ top1, many: 0.9, medium: 0.5, few, perClass: [] });

function unit(id: string, seed: number, final: StageResult, stage1: StageResult | null = null, ablation = false): UnitResult {
  const m = [...P.methods, ...P.ablation.methods].find((x) => x.id === id)!;
  return {
    protocol: 'p',
    protocolSha256: 'x',
    unit: `${id}-s${seed}`,
    method: { id, label: m.label, plugin: m.plugin },
    seed,
    ablation,
    final,
    stage1: stage1 ? { ...stage1, as: m.stage1As } : null,
    classCounts: [],
    wallSeconds: 100 + seed,
    attempts: 1,
    attemptsWallSeconds: 100,
    params: {},
    versions: {},
    commit: { sha: 'abc', dirty: false },
    finishedAt: '',
  };
}

// top-1: ICCL 0.50, 0.60, 0.70 vs CE + cRT 0.40, 0.45, 0.60 -> d = 0.10, 0.15, 0.10 (hand-worked in stats.test.ts)
// Few:   ICCL 0.20, 0.10, 0.30 vs CE + cRT 0.25, 0.20, 0.25 -> d = -0.05, -0.10, 0.05: mean -1/30, includes 0
const RESULTS = [
  unit('ce-crt', 0, stage(0.4, 0.25), stage(0.3, 0.0)),
  unit('ce-crt', 1, stage(0.45, 0.2), stage(0.35, 0.1)),
  unit('ce-crt', 2, stage(0.6, 0.25), stage(0.5, 0.05)),
  unit('iccl-crt', 2, stage(0.7, 0.3)),
  unit('iccl-crt', 0, stage(0.5, 0.2)),
  unit('iccl-crt', 1, stage(0.6, 0.1)),
  unit('iccl-no-icc', 0, stage(0.45, 0.3), null, true),
];

describe('methods table', () => {
  const rows = byMethod(P, RESULTS);
  const get = (id: string) => rows.find((r) => r.id === id)!;

  it('rows in declared order; CE from the stage 1 of the CE + cRT units', () => {
    expect(rows.map((r) => r.id)).toEqual(['ce', 'ce-crt', 'iccl-crt', 'iccl-no-icc']);
    const ce = cell(get('ce'), 'top1');
    expect(ce.n).toBe(3);
    expect(ce.mean).toBeCloseTo(0.3833333333, 9);
    // deviations -1/12, -1/30, +7/60 -> var = (25 + 4 + 49) / 3600 / 2
    expect(ce.sd).toBeCloseTo(Math.sqrt(78 / 7200), 12);
    expect(get('ce').wallSeconds).toEqual([]);
    expect(get('ce-crt').wallSeconds).toEqual([100, 101, 102]);
  });

  it('paired difference by seed (file order does not matter) with the 95% t-interval', () => {
    const top = paired(get('iccl-crt'), get('ce-crt'), 'top1');
    expect(top.seeds).toEqual([0, 1, 2]);
    expect(top.mean).toBeCloseTo(7 / 60, 12);
    const half = Math.sqrt((2 * 0.95 ** 2) / (1 - 0.95 ** 2)) / 60;
    expect(top.lo).toBeCloseTo(7 / 60 - half, 8);
    expect(verdict(top)).toBe('ahead');
    const few = paired(get('iccl-crt'), get('ce-crt'), 'few');
    expect(few.mean).toBeCloseTo(-1 / 30, 12);
    expect(verdict(few)).toBe('no difference shown');
    expect(formatDiff(top)).toBe('+11.7 [4.5, 18.8] (seeds: +10.0, +15.0, +10.0)');
    // ablation: only seed 0 pairs
    const ab = paired(get('iccl-no-icc'), get('iccl-crt'), 'top1');
    expect(ab.seeds).toEqual([0]);
    expect(formatDiff(ab)).toBe('-5.0 (1 seed: no interval)');
  });

  it('the sentence follows the intervals', () => {
    const s = sentence(P, get('iccl-crt'), get('ce-crt'));
    expect(s).toContain('ahead on top-1 (+11.7 points, 95% CI [4.5, 18.8], above zero)');
    expect(s).toContain('not distinguishable on Few-class accuracy (-3.3 points');
    // all methods below twice chance (0.3 and 0.6 means vs chance 0.4): the caveat clause
    expect(sentence(P, get('iccl-crt'), get('ce-crt'), rows.filter((r) => !r.ablation), 0.4)).toMatch(/below twice chance \(best mean top-1 60\.0% against 40\.0% for 3 classes\)/);
    expect(sentence(P, get('iccl-crt'), get('ce-crt'), rows.filter((r) => !r.ablation), 0.1)).not.toMatch(/chance/);
    const one = byMethod(P, RESULTS.filter((r) => r.seed === 0));
    expect(sentence(P, one.find((r) => r.id === 'iccl-crt')!, one.find((r) => r.id === 'ce-crt')!)).toMatch(/no interval yet/);
  });
});
