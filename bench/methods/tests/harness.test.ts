import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonlTracker, type Logger, type StepRecord, type TrialContext } from '@iccl/trainer-api';
import { runProtocol, sha256, type UnitTrainer } from '../harness';
import { readMethodsProtocol, type MethodsProtocol } from '../protocol';
import { readResult, type UnitResult } from '../result';
import { checkFingerprints, sanityLine } from '../table';
import type { MethodRows } from '../summary';
import { describeOutcome, verifyUnit } from '../verify';
import type { GoldenFixture } from '../golden-fixture';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

const PROTOCOL: MethodsProtocol = {
  name: 'fake',
  description: 'a two-method protocol for the harness tests, no real training',
  params: { epochs: 3, crtEpochs: 1 },
  seeds: [0, 1],
  methods: [
    { id: 'ce-crt', label: 'CE + cRT', plugin: 'crt', stage1As: { id: 'ce', label: 'CE' } },
    { id: 'iccl-crt', label: 'ICCL + cRT', plugin: 'iccl' },
  ],
  paired: { a: 'iccl-crt', b: 'ce-crt' },
  ablation: { seeds: [0], methods: [{ id: 'iccl-no-icc', label: 'ICCL, wIcc 0', plugin: 'iccl', set: { wIcc: 0 } }] },
};
const TEXT = JSON.stringify(PROTOCOL);

const csv = (acc: number[]) =>
  'class,name,group,train_count,test_count,accuracy\n' + acc.map((a, c) => `${c},c${c},${c === 0 ? 'many' : 'few'},${c === 0 ? 100 : 10},20,${a}`).join('\n') + '\n';

/**
 * A trainer that "trains" epoch by epoch with a checkpoint file in workDir, as the real loop does:
 * it resumes from the checkpoint, and can be told to die after a given epoch.
 */
const NO_FIXTURE: GoldenFixture = { traces: [] };

function fakeTrainer(dieAfter: Record<string, number> = {}, lossShift = 0) {
  const calls: Array<{ unit: string; from: number; params: Record<string, unknown> }> = [];
  const t: UnitTrainer = {
    params: (plugin, raw) => {
      if (raw.wIcc !== undefined && plugin !== 'iccl') throw new Error('wIcc is an ICCL parameter');
      return { ...raw, plugin };
    },
    context: (unit, workDir, metricsFile, signal, onStep?: (s: StepRecord) => void): TrialContext => ({
      trialId: unit,
      workDir,
      signal,
      report: async () => {},
      tracker: new JsonlTracker(metricsFile, unit),
      log: quiet,
      onStep,
    }),
    versions: () => ({ fake: '1' }),
    train: async (_plugin, p, ctx) => {
      const ck = path.join(ctx.workDir, 'ckpt');
      const from = fs.existsSync(ck) ? Number(fs.readFileSync(ck, 'utf8')) : 0;
      calls.push({ unit: ctx.trialId, from, params: p });
      const total = Number(p.epochs) + Number(p.crtEpochs);
      const seed = Number(p.seed);
      for (let e = from; e < total; e++) {
        // three steps an epoch, with losses that depend on seed, epoch and step (and lossShift: "other code")
        for (let step = 0; step < 3; step++) {
          if (ctx.signal.aborted) throw new Error('training aborted');
          const stage = e < Number(p.epochs) ? 1 : 2;
          ctx.onStep?.({ stage, epoch: stage === 1 ? e : e - Number(p.epochs), step, loss: 2 / (1 + e + step / 3) + seed / 7 + (e === 0 && step === 2 ? lossShift : 0), terms: {} });
        }
        const stage1End = e + 1 === Number(p.epochs);
        ctx.tracker.logMetrics({ 'train/loss': 1 / (e + 1), ...(stage1End || e + 1 === total ? { 'eval/top1': 0.5 + seed / 10, 'eval/many': 0.9, 'eval/medium': 0.5, 'eval/few': 0.1 + seed / 100 } : {}) }, e + 1);
        if (stage1End) fs.writeFileSync(path.join(ctx.workDir, 'per_class_accuracy_stage1.csv'), csv([0.9, 0.1]));
        fs.writeFileSync(ck, String(e + 1));
        if (dieAfter[ctx.trialId] === e + 1) throw new Error(`killed after epoch ${e + 1}`);
      }
      fs.writeFileSync(path.join(ctx.workDir, 'per_class_accuracy.csv'), csv([0.8, 0.3 + seed / 10]));
      return { metrics: { top1: 0.6 + seed / 10, many: 0.8, medium: 0.5, few: 0.3 + seed / 10 }, objective: 0.6 };
    },
  };
  return { t, calls };
}

function dirs() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'methods-harness-'));
  return { outDir: path.join(root, 'out'), workDir: path.join(root, 'work') };
}

describe('methods harness', () => {
  it('runs every unit once, writes and commits each result; a second run does nothing but re-check the commits', async () => {
    const d = dirs();
    const { t, calls } = fakeTrainer();
    const commits: string[] = [];
    const opts = { protocol: PROTOCOL, protocolText: TEXT, ...d, trainer: t, commit: (f: string) => commits.push(path.basename(f)), code: { sha: 'abc', dirty: false }, fingerprint: 'fp-test', log: quiet };
    const s1 = await runProtocol(opts);
    expect(s1.ran).toEqual(['ce-crt-s0', 'iccl-crt-s0', 'ce-crt-s1', 'iccl-crt-s1', 'iccl-no-icc-s0']);
    expect(calls.map((c) => c.unit)).toEqual(s1.ran);
    expect(commits).toEqual(s1.ran.map((u) => `${u}.json`));
    const r = readResult(path.join(d.outDir, 'fake', 'ce-crt-s1.json'))!;
    expect(r.final.top1).toBeCloseTo(0.7, 9);
    expect(r.final.perClass.map((c) => c.accuracy)).toEqual([0.8, 0.4]);
    expect(r.classCounts).toEqual([100, 10]);
    // CE is read from the end of stage 1 of the CE + cRT unit (eval at step = epochs).
    expect(r.stage1?.as).toEqual({ id: 'ce', label: 'CE' });
    expect(r.stage1?.few).toBeCloseTo(0.11, 9);
    expect(r.stage1?.perClass.map((c) => c.accuracy)).toEqual([0.9, 0.1]);
    expect(r.params).toMatchObject({ epochs: 3, crtEpochs: 1, seed: 1, plugin: 'crt' });
    expect(r.protocolSha256).toBe(sha256(TEXT));
    expect(r.commit).toEqual({ sha: 'abc', dirty: false });
    expect(r.attempts).toBe(1);
    const ab = readResult(path.join(d.outDir, 'fake', 'iccl-no-icc-s0.json'))!;
    expect(ab.ablation).toBe(true);
    expect(ab.params.wIcc).toBe(0);

    const before = fs.readFileSync(path.join(d.outDir, 'fake', 'ce-crt-s1.json'), 'utf8');
    const s2 = await runProtocol(opts);
    expect(s2.ran).toEqual([]);
    expect(s2.skipped).toEqual(s1.ran);
    expect(calls).toHaveLength(5);
    expect(fs.readFileSync(path.join(d.outDir, 'fake', 'ce-crt-s1.json'), 'utf8')).toBe(before);
  });

  it('an interrupted unit resumes from its checkpoint in the same work folder; the units after it then run', async () => {
    const d = dirs();
    const first = fakeTrainer({ 'iccl-crt-s0': 2 });
    const commits: string[] = [];
    const base = { protocol: PROTOCOL, protocolText: TEXT, ...d, commit: (f: string) => commits.push(path.basename(f)), code: { sha: 'abc', dirty: false }, fingerprint: 'fp-test', log: quiet };
    const s1 = await runProtocol({ ...base, trainer: first.t, only: ['ce-crt-s0', 'iccl-crt-s0'] });
    expect(s1.ran).toEqual(['ce-crt-s0']);
    expect(s1.failed).toEqual(['iccl-crt-s0']);
    expect(fs.existsSync(path.join(d.outDir, 'fake', 'iccl-crt-s0.json'))).toBe(false);

    const second = fakeTrainer();
    const s2 = await runProtocol({ ...base, trainer: second.t });
    expect(s2.skipped).toEqual(['ce-crt-s0']);
    expect(s2.ran).toEqual(['iccl-crt-s0', 'ce-crt-s1', 'iccl-crt-s1', 'iccl-no-icc-s0']);
    // the interrupted unit started at epoch 2 (its checkpoint), the others from 0
    expect(second.calls.map((c) => [c.unit, c.from])).toEqual([
      ['iccl-crt-s0', 2],
      ['ce-crt-s1', 0],
      ['iccl-crt-s1', 0],
      ['iccl-no-icc-s0', 0],
    ]);
    const r = readResult(path.join(d.outDir, 'fake', 'iccl-crt-s0.json'))!;
    expect(r.attempts).toBe(2);
    expect(r.stage1?.top1).toBeCloseTo(0.5, 9);
  });

  it('an abort stops between units and leaves no result for the unit it cut', async () => {
    const d = dirs();
    const ac = new AbortController();
    const { t } = fakeTrainer();
    const train = t.train;
    t.train = async (pl, p, ctx) => {
      if (ctx.trialId === 'iccl-crt-s0') {
        ac.abort();
        throw new Error('training aborted');
      }
      return train(pl, p, ctx);
    };
    const opts = { protocol: PROTOCOL, protocolText: TEXT, ...d, trainer: t, commit: () => {}, code: { sha: 'abc', dirty: false }, fingerprint: 'fp-test', log: quiet, signal: ac.signal };
    await expect(runProtocol(opts)).rejects.toThrow('training aborted');
    expect(fs.readdirSync(path.join(d.outDir, 'fake')).sort()).toEqual(['ce-crt-s0.json']);
  });

  it('refuses results written under another version of the protocol file', async () => {
    const d = dirs();
    const { t } = fakeTrainer();
    const opts = { protocol: PROTOCOL, protocolText: TEXT, ...d, trainer: t, commit: () => {}, code: { sha: 'abc', dirty: false }, fingerprint: 'fp-test', log: quiet, only: ['ce-crt-s0'] };
    await runProtocol(opts);
    await expect(runProtocol({ ...opts, protocolText: TEXT + ' ' })).rejects.toThrow(/another version of protocol fake/);
  });

  it('records the golden fingerprint and the first epoch\'s per-step losses, also across a resume', async () => {
    const d = dirs();
    const base = { protocol: PROTOCOL, protocolText: TEXT, ...d, commit: () => {}, code: { sha: 'abc', dirty: false }, fingerprint: 'fp-test', log: quiet };
    // iccl-crt-s0 dies after epoch 2: its resumed attempt starts at epoch 2 and never re-runs epoch 0
    await runProtocol({ ...base, trainer: fakeTrainer({ 'iccl-crt-s0': 2 }).t, only: ['iccl-crt-s0'] });
    await runProtocol({ ...base, trainer: fakeTrainer().t, only: ['iccl-crt-s0'] });
    const r = readResult(path.join(d.outDir, 'fake', 'iccl-crt-s0.json'))!;
    expect(r.attempts).toBe(2);
    expect(r.goldenFingerprint).toBe('fp-test');
    expect(r.firstEpochLosses).toEqual([2, 2 / (1 + 1 / 3), 2 / (1 + 2 / 3)]);
  });

  it('--verify: a unit re-computed by the same code matches; by code that computes otherwise, it says where', async () => {
    const d = dirs();
    const base = { protocol: PROTOCOL, protocolText: TEXT, ...d, commit: () => {}, code: { sha: 'abc', dirty: false }, fingerprint: 'fp-test', log: quiet };
    await runProtocol({ ...base, trainer: fakeTrainer().t, only: ['ce-crt-s1'] });
    const same = fakeTrainer();
    const ok = await verifyUnit({ protocol: PROTOCOL, outDir: d.outDir, trainer: same.t, unit: 'ce-crt-s1', fingerprint: 'fp-test', fixture: NO_FIXTURE, machine: 'kind A' });
    expect(ok).toMatchObject({ status: 'match', steps: 3, differing: 0, paramsChanged: [] });
    // it stopped after the first epoch (the fake trainer aborts at the next step)
    expect(same.calls).toHaveLength(1);
    const bad = await verifyUnit({ protocol: PROTOCOL, outDir: d.outDir, trainer: fakeTrainer({}, 1e-7).t, unit: 'ce-crt-s1', fingerprint: 'fp-other', fixture: NO_FIXTURE, machine: 'kind A' });
    expect(bad.status).toBe('mismatch');
    expect(bad.differing).toBe(1);
    expect(bad.firstDiff?.step).toBe(2);
    expect(bad.fingerprint).toEqual({ recorded: 'fp-test', now: 'fp-other' });
    await expect(verifyUnit({ protocol: PROTOCOL, outDir: d.outDir, trainer: same.t, unit: 'ce-crt-s0', fingerprint: 'fp-test', fixture: NO_FIXTURE, machine: 'kind A' })).rejects.toThrow(/has not finished/);
    await expect(verifyUnit({ protocol: PROTOCOL, outDir: d.outDir, trainer: same.t, unit: 'nope-s0', fingerprint: 'fp-test', fixture: NO_FIXTURE, machine: 'kind A' })).rejects.toThrow(/no such unit/);
  });

  it('--verify across machine kinds: rounding-close first steps are other-kind, a real change is a mismatch', async () => {
    const d = dirs();
    const base = { protocol: PROTOCOL, protocolText: TEXT, ...d, commit: () => {}, code: { sha: 'abc', dirty: false }, fingerprint: 'fp-a', machine: 'kind A', log: quiet };
    await runProtocol({ ...base, trainer: fakeTrainer().t, only: ['ce-crt-s1'] });
    expect(readResult(path.join(d.outDir, 'fake', 'ce-crt-s1.json'))!.machine).toBe('kind A');
    const trace = { cases: {} };
    const fixture: GoldenFixture = { traces: [{ machine: { key: 'kind A' }, fingerprint: 'fp-a', ...trace }, { machine: { key: 'kind B' }, fingerprint: 'fp-b', ...trace }] };
    const v = { protocol: PROTOCOL, outDir: d.outDir, unit: 'ce-crt-s1', fingerprint: 'fp-b', fixture, machine: 'kind B' };
    const close = await verifyUnit({ ...v, trainer: fakeTrainer({}, 1e-7).t });
    expect(close.status).toBe('other-kind');
    expect(close.kinds).toMatchObject({ recorded: 'kind A', now: 'kind B' });
    expect(describeOutcome(close)).toMatch(/^ce-crt-s1: OTHER MACHINE KIND: not verifiable bit for bit here, consistent to rounding/);
    const far = await verifyUnit({ ...v, trainer: fakeTrainer({}, 0.01).t });
    expect(far.status).toBe('mismatch');
    expect(describeOutcome(far)).toMatch(/MISMATCH: 1 of 3 .*recorded on kind A, running on kind B/);
    // the same bits on another kind still match
    expect((await verifyUnit({ ...v, trainer: fakeTrainer().t })).status).toBe('match');
  });

  it('the table refuses results of different golden fingerprints unless told, naming the units', () => {
    const r = (unit: string, fp?: string) => ({ unit, goldenFingerprint: fp }) as UnitResult;
    expect(() => checkFingerprints([r('a-s0', 'x'), r('b-s0', 'x')], false)).not.toThrow();
    expect(() => checkFingerprints([r('a-s0', 'x'), r('b-s0', 'y'), r('c-s0')], false)).toThrow(/3 different golden traces[\s\S]*x: a-s0[\s\S]*y: b-s0[\s\S]*none: c-s0/);
    expect(() => checkFingerprints([r('a-s0', 'x'), r('b-s0', 'y')], true)).not.toThrow();
    // the same code traced on two machine kinds (both in the fixture) mixes; a third fingerprint does not
    const f: GoldenFixture = { traces: [{ machine: { key: 'A' }, fingerprint: 'x', cases: {} }, { machine: { key: 'B' }, fingerprint: 'y', cases: {} }] };
    expect(() => checkFingerprints([r('a-s0', 'x'), r('b-s0', 'y')], false, f)).not.toThrow();
    expect(() => checkFingerprints([r('a-s0', 'x'), r('b-s0', 'z')], false, f)).toThrow(/2 different golden traces/);
  });

  it('the declared sanity criterion: undecided until every seed is in, then met or not met with what follows', () => {
    const p = { ...PROTOCOL, sanity: { method: 'ce-crt', metric: 'top1' as const, min: 0.6, then: 'declare a longer protocol' } };
    const rows = (tops: number[]): MethodRows[] => [
      { id: 'ce-crt', label: 'CE + cRT', ablation: false, wallSeconds: [], bySeed: new Map(tops.map((t, s) => [s, { top1: t, many: 0, medium: 0, few: 0, perClass: [] }])) },
    ];
    expect(sanityLine(PROTOCOL, rows([0.7, 0.7]))).toBeNull();
    expect(sanityLine(p, rows([0.7]))).toMatch(/not decided yet \(1 of 2 seeds\)/);
    expect(sanityLine(p, rows([0.62, 0.6]))).toMatch(/>= 60%: met \(61\.0%\)/);
    expect(sanityLine(p, rows([0.62, 0.57]))).toMatch(/NOT MET \(59\.5%\): declare a longer protocol/);
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'proto-')), 'fake.json');
    fs.writeFileSync(tmp, JSON.stringify({ ...p, sanity: { ...p.sanity, method: 'nope' } }));
    expect(() => readMethodsProtocol(tmp)).toThrow(/sanity\.method "nope"/);
  });

  it('protocol files: the committed ones parse; errors name the field', () => {
    const dir = path.join(__dirname, '..', 'protocols');
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) expect(readMethodsProtocol(path.join(dir, f)).seeds.length).toBeGreaterThanOrEqual(3);
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'proto-')), 'fake.json');
    fs.writeFileSync(tmp, JSON.stringify({ ...PROTOCOL, paired: { a: 'iccl-crt', b: 'nope' } }));
    expect(() => readMethodsProtocol(tmp)).toThrow(/paired: expected \{a, b\} naming two method ids/);
    fs.writeFileSync(tmp, JSON.stringify({ ...PROTOCOL, methods: [{ ...PROTOCOL.methods[0], plugin: 'svm' }] }));
    expect(() => readMethodsProtocol(tmp)).toThrow(/methods\[0\]\.plugin "svm"/);
  });
});
