import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { JournalLock, JournalStorage } from '../src/storages/journal';
import { parsePython, stringifyPython } from '../src/storages/journal/python-json';
import { StudyDirection, TrialState } from '../src/study/trial-types';
import type { Distribution } from '../src/study/distributions';
import { DuplicatedStudyError, StaleTrialError } from '../src/storages/base';
import { python, REPO, tmpDir } from './helpers';

const X: Distribution = { kind: 'float', low: -5, high: 5, log: false, step: null };
const LR: Distribution = { kind: 'float', low: 1e-5, high: 1, log: true, step: null };
const N: Distribution = { kind: 'int', low: 1, high: 64, log: true, step: 1 };
const C: Distribution = { kind: 'categorical', choices: ['sgd', 'adam', null] };

interface PyTrial {
  number: number;
  state: string;
  values: (number | string)[] | null;
  params: Record<string, unknown>;
  distributions: Record<string, string>;
  intermediate: Record<string, number | string>;
  user_attrs: Record<string, unknown>;
  system_attrs: Record<string, unknown>;
  has_start: boolean;
  has_complete: boolean;
}
interface PyStudy {
  name: string;
  directions: string[];
  user_attrs: Record<string, unknown>;
  trials: PyTrial[];
}

describe('python-compatible JSON', () => {
  it('round-trips NaN and infinities as bare tokens, leaving strings alone', () => {
    const text = stringifyPython({ a: NaN, b: [Infinity, -Infinity, 1.5], s: 'NaN Infinity "x"' });
    expect(text).toBe('{"a":NaN,"b":[Infinity,-Infinity,1.5],"s":"NaN Infinity \\"x\\""}');
    const back = parsePython(text) as { a: number; b: number[]; s: string };
    expect(back.a).toBeNaN();
    expect(back.b).toEqual([Infinity, -Infinity, 1.5]);
    expect(back.s).toBe('NaN Infinity "x"');
    // Python's own spacing
    expect(parsePython('{"v": NaN, "w": -Infinity}')).toEqual({ v: NaN, w: -Infinity });
  });
});

describe('JournalStorage', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('journal');
  });

  async function writeStudy(file: string): Promise<void> {
    const s = new JournalStorage(file);
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 'ours');
    await s.setStudyUserAttr(sid, 'space', { name: 'toy' });
    // trial 0: complete, with every distribution kind and a NaN intermediate value
    const t0 = await s.createNewTrial(sid);
    await s.setTrialParam(t0, 'x', 1.25, X);
    await s.setTrialParam(t0, 'lr', 0.003, LR);
    await s.setTrialParam(t0, 'n', 16, N);
    await s.setTrialParam(t0, 'opt', 2, C);
    await s.setTrialIntermediateValue(t0, 0, 9.5);
    await s.setTrialIntermediateValue(t0, 1, NaN);
    await s.setTrialUserAttr(t0, 'eval/many', 0.71);
    expect(await s.setTrialStateValues(t0, TrialState.COMPLETE, [0.5])).toBe(true);
    // trial 1: pruned at step 2
    const t1 = await s.createNewTrial(sid);
    await s.setTrialParam(t1, 'x', -3, X);
    await s.setTrialIntermediateValue(t1, 2, 4);
    await s.setTrialStateValues(t1, TrialState.PRUNED, [4]);
    // trial 2: failed with its reason
    const t2 = await s.createNewTrial(sid);
    await s.setTrialSystemAttr(t2, 'fail_reason', 'objective is NaN');
    await s.setTrialStateValues(t2, TrialState.FAIL);
    // trial 3: enqueued (WAITING) with fixed params, trial 4: complete with +inf
    await s.createNewTrial(sid, { state: TrialState.WAITING, params: { x: 0.5, opt: 'adam' }, distributions: { x: X, opt: C } });
    const t4 = await s.createNewTrial(sid);
    await s.setTrialStateValues(t4, TrialState.COMPLETE, [Infinity]);
    const mo = await s.createStudy([StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE], 'ours-mo');
    const m0 = await s.createNewTrial(mo);
    await s.setTrialStateValues(m0, TrialState.COMPLETE, [1, 2]);
    await s.close();
  }

  it('writes a study that the real optuna package reads back identically (symlink and open locks)', async () => {
    const file = path.join(dir, 'ours.journal');
    await writeStudy(file);
    for (const lock of ['symlink', 'open']) {
      const studies = JSON.parse(python('optuna_read.py', [file, lock])) as PyStudy[];
      expect(studies.map((s) => s.name)).toEqual(['ours', 'ours-mo']);
      const [st, mo] = studies;
      expect(st.directions).toEqual(['MINIMIZE']);
      expect(st.user_attrs).toEqual({ space: { name: 'toy' } });
      expect(st.trials.map((t) => t.state)).toEqual(['COMPLETE', 'PRUNED', 'FAIL', 'WAITING', 'COMPLETE']);
      const [t0, t1, t2, t3, t4] = st.trials;
      expect(t0.params).toEqual({ x: 1.25, lr: 0.003, n: 16, opt: null });
      expect(t0.distributions).toEqual({ x: 'FloatDistribution', lr: 'FloatDistribution', n: 'IntDistribution', opt: 'CategoricalDistribution' });
      expect(t0.values).toEqual([0.5]);
      expect(t0.intermediate).toEqual({ '0': 9.5, '1': 'NaN' });
      expect(t0.user_attrs).toEqual({ 'eval/many': 0.71 });
      expect(t0.has_start && t0.has_complete).toBe(true);
      expect(t1.values).toEqual([4]);
      expect(t1.intermediate).toEqual({ '2': 4 });
      expect(t2.values).toBeNull();
      expect(t2.system_attrs).toEqual({ fail_reason: 'objective is NaN' });
      expect(t3.params).toEqual({ x: 0.5, opt: 'adam' });
      expect(t3.has_start).toBe(false);
      expect(t4.values).toEqual(['Infinity']);
      expect(mo.directions).toEqual(['MINIMIZE', 'MAXIMIZE']);
      expect(mo.trials[0].values).toEqual([1, 2]);
    }
    // Python appends to our file and we read its lines (shared file, both directions).
    python('optuna_write.py', [file]);
    const s = new JournalStorage(file);
    expect((await s.getAllStudies()).map((x) => x.studyName)).toEqual(['ours', 'ours-mo', 'from-optuna', 'mo']);
  });

  it('reads a study written by the real optuna package', async () => {
    const file = path.join(dir, 'py.journal');
    python('optuna_write.py', [file]);
    const s = new JournalStorage(file);
    const sid = await s.getStudyIdFromName('from-optuna');
    expect(await s.getStudyDirections(sid)).toEqual([StudyDirection.MINIMIZE]);
    expect(await s.getStudyUserAttrs(sid)).toEqual({ origin: 'python' });
    const trials = await s.getAllTrials(sid);
    expect(trials.map((t) => t.state)).toEqual([TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE, TrialState.WAITING]);
    const [t0, t1, t2, t3, t4, t5] = trials;
    expect(t0.params).toEqual({ x: 1.5, n: 4, c: 'b' });
    expect(t0.values).toEqual([1.5 * 1.5 + 4]);
    expect([...t0.intermediateValues.entries()]).toEqual([
      [0, 2.25],
      [1, 3.25],
      [2, 4.25],
    ]);
    expect(t0.userAttrs).toEqual({ note: 't0' });
    expect(t0.distributions.n).toEqual({ kind: 'int', low: 1, high: 64, log: true, step: 1 });
    expect(t0.distributions.c).toEqual({ kind: 'categorical', choices: ['a', 'b', null] });
    expect(t0.datetimeStart!.getTime()).toBeLessThanOrEqual(t0.datetimeComplete!.getTime());
    // optuna 5 records a pruned trial's last intermediate value as its value
    expect(t1.values).toEqual([t1.intermediateValues.get(2)]);
    expect(t1.intermediateValues.size).toBe(3);
    expect(t2.values).toBeNull();
    expect(t3.values).toBeNull(); // NaN objective: failed
    const x4 = t4.params.x as number;
    expect(t4.values![0]).toBeCloseTo(x4 * x4 + (t4.params.n as number), 12);
    // optuna keeps an enqueued trial's params in its system attrs until a worker takes it
    expect(t5.systemAttrs.fixed_params).toEqual({ x: 2 });
    expect(t5.datetimeStart).toBeNull();
    const mo = await s.getAllTrials(await s.getStudyIdFromName('mo'));
    expect(mo.map((t) => t.values![1])).toEqual([Infinity, Infinity]);
    // Trial ids are storage-wide, in creation order, across studies (Optuna's numbering).
    expect(mo.map((t) => t.trialId)).toEqual([6, 7]);
  });

  it('rejects duplicate study names, writes to finished trials, and a second claim of a WAITING trial', async () => {
    const file = path.join(dir, 'rules.journal');
    const a = new JournalStorage(file);
    const b = new JournalStorage(file);
    const sid = await a.createStudy([StudyDirection.MINIMIZE], 's');
    await expect(b.createStudy([StudyDirection.MAXIMIZE], 's')).rejects.toBeInstanceOf(DuplicatedStudyError);
    const w = await a.createNewTrial(sid, { state: TrialState.WAITING });
    expect(await b.setTrialStateValues(w, TrialState.RUNNING)).toBe(true);
    expect(await a.setTrialStateValues(w, TrialState.RUNNING)).toBe(false);
    await b.setTrialStateValues(w, TrialState.COMPLETE, [1]);
    await expect(a.setTrialIntermediateValue(w, 0, 1)).rejects.toBeInstanceOf(StaleTrialError);
    await expect(a.setTrialStateValues(w, TrialState.FAIL)).rejects.toBeInstanceOf(StaleTrialError);
    expect((await a.getTrial(w)).values).toEqual([1]);
  });

  it('tolerates a truncated last line (crash mid-write): readers skip it, the next writer cuts it off', async () => {
    const file = path.join(dir, 'crash.journal');
    const a = new JournalStorage(file);
    const sid = await a.createStudy([StudyDirection.MINIMIZE], 's');
    const t = await a.createNewTrial(sid);
    fs.appendFileSync(file, '{"op_code":6,"worker_id":"dead","trial_id":0,"st');
    const b = new JournalStorage(file);
    expect((await b.getTrial(t)).state).toBe(TrialState.RUNNING);
    await b.setTrialStateValues(t, TrialState.COMPLETE, [2]);
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('"dead"');
    // optuna still reads the repaired file
    const py = JSON.parse(python('optuna_read.py', [file, 'symlink'])) as PyStudy[];
    expect(py[0].trials[0]).toMatchObject({ state: 'COMPLETE', values: [2] });
  });

  it('repairs a torn last line at load, with one warning, whether or not it kept its newline', async () => {
    for (const tail of ['{"op_code":6,"worker_id":"dead","trial_id":0,"st', '{"op_code":6,"worker_id":"dead","tri\u0000\u0000\n']) {
      const file = path.join(dir, `torn-${tail.length}.journal`);
      const a = new JournalStorage(file);
      const sid = await a.createStudy([StudyDirection.MINIMIZE], 's');
      const t = await a.createNewTrial(sid);
      await a.setTrialStateValues(t, TrialState.COMPLETE, [1]);
      const good = fs.readFileSync(file, 'utf8');
      fs.appendFileSync(file, tail);
      // Two loads in a fresh process: the first repairs (one warning), the second finds nothing to do.
      const load = `const { JournalStorage } = require(${JSON.stringify(path.join(REPO, 'search/src/storages/journal'))}); new JournalStorage(process.argv[1]); new JournalStorage(process.argv[1]);`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', load, file], { cwd: REPO, encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stderr.trim().split('\n')).toEqual([`WARN: ${file}: dropping ${Buffer.byteLength(tail)} bytes of a broken last journal line (a writer was killed mid-write)`]);
      const b = new JournalStorage(file);
      expect(fs.readFileSync(file, 'utf8')).toBe(good);
      expect((await b.getTrial(t)).values).toEqual([1]);
      const py = JSON.parse(python('optuna_read.py', [file, 'symlink'])) as PyStudy[];
      expect(py[0].trials.map((x) => x.state)).toEqual(['COMPLETE']);
    }
  });

  it('leaves a broken tail alone while another writer holds the lock (it may be a write in progress)', async () => {
    const file = path.join(dir, 'busy.journal');
    const a = new JournalStorage(file);
    const sid = await a.createStudy([StudyDirection.MINIMIZE], 's');
    fs.appendFileSync(file, '{"op_code":5,"worker_id":"w","study_id":0');
    expect((a.backend.lock as JournalLock).tryAcquire()).toBe(true); // as if a write were in progress
    try {
      const b = new JournalStorage(file);
      expect(await b.getAllTrials(sid)).toEqual([]);
      expect(fs.readFileSync(file, 'utf8').endsWith('"study_id":0')).toBe(true);
    } finally {
      a.backend.lock.release();
    }
  });

  it('a full disk is one error naming the journal, and the operation is not recorded', async () => {
    const file = path.join(dir, 'full.journal');
    fs.symlinkSync('/dev/full', file); // every write fails with ENOSPC
    const s = new JournalStorage(file);
    await expect(s.createStudy([StudyDirection.MINIMIZE], 's')).rejects.toThrow(
      `cannot write to the journal ${file}: the disk is full (ENOSPC); the operation was not recorded (everything before it is kept)`,
    );
    await expect(s.getAllStudies()).resolves.toEqual([]);
    expect(fs.existsSync(file + '.lock')).toBe(false); // the lock was released
  });

  it('names the file and line of a damaged line in the middle', () => {
    const file = path.join(dir, 'bad.journal');
    fs.writeFileSync(file, '{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}\n{oops\n{"op_code":1,"worker_id":"w","study_id":0}\n');
    expect(() => new JournalStorage(file)).toThrow(`${file}:2: journal line is not valid JSON`);
  });

  it('resumes: a new process sees the state left by the previous one and numbering continues', async () => {
    const file = path.join(dir, 'resume.journal');
    const a = new JournalStorage(file);
    const sid = await a.createStudy([StudyDirection.MAXIMIZE], 's');
    await a.createNewTrial(sid);
    await a.createNewTrial(sid);
    const b = new JournalStorage(file);
    const t = await b.createNewTrial(sid);
    expect((await b.getTrial(t)).number).toBe(2);
    expect((await b.getAllTrials(sid, [TrialState.RUNNING])).length).toBe(3);
  });

  it('createTrialWithinLimit: writers at once never exceed the limit; exempt trials do not count', async () => {
    const file = path.join(dir, 'budget.journal');
    const writers = [new JournalStorage(file), new JournalStorage(file), new JournalStorage(file)];
    const sid = await writers[0].createStudy([StudyDirection.MINIMIZE], 'b');
    await writers[0].createNewTrial(sid, { state: TrialState.WAITING, systemAttrs: { retried_from: 0 } });
    await writers[0].createNewTrial(sid);
    const made = await Promise.all(writers.flatMap((w) => Array.from({ length: 10 }, () => w.createTrialWithinLimit(sid, 7, 'retried_from'))));
    expect(made.filter((id) => id !== null).length).toBe(6);
    expect((await writers[2].getAllTrials(sid)).length).toBe(8);
    const py = JSON.parse(python('optuna_read.py', [file, 'symlink'])) as PyStudy[];
    expect(py[0].trials.length).toBe(8);
  });

  it('is shared safely by several processes: every create and claim is unique', async () => {
    const file = path.join(dir, 'multi.journal');
    const s = new JournalStorage(file);
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 'm');
    for (let i = 0; i < 40; i++) await s.createNewTrial(sid, { state: TrialState.WAITING, params: { x: i / 10 }, distributions: { x: X } });
    const script = path.join(__dirname, 'fixtures', 'journal-worker.ts');
    const procs = [0, 1, 2].map(
      (k) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, file, String(k)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.on('exit', (code: number) => (code === 0 ? resolve(out) : reject(new Error(`worker ${k} exited ${code}`))));
        }),
    );
    const outs = await Promise.all(procs);
    const claimed = outs.flatMap((o) => JSON.parse(o) as number[]);
    // 40 waiting trials claimed exactly once across the three processes
    expect(claimed.length).toBe(40);
    expect(new Set(claimed).size).toBe(40);
    const all = await s.getAllTrials(sid);
    // plus 3 x 10 fresh trials each process created and completed
    expect(all.length).toBe(70);
    expect(all.every((t) => t.state === TrialState.COMPLETE)).toBe(true);
    expect(new Set(all.map((t) => t.number)).size).toBe(70);
    const py = JSON.parse(python('optuna_read.py', [file, 'symlink'])) as PyStudy[];
    expect(py[0].trials.length).toBe(70);
    expect(spawnSync('ls', [file + '.lock']).status).not.toBe(0); // no lock left behind
  }, 60_000);
});
