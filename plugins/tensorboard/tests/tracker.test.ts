import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c, maskedCrc32c, TensorBoardTrackingBackend } from '../src';

const REPO = path.resolve(__dirname, '../../..');
const PYTHON = path.join(REPO, '.venv/bin/python');

interface Read {
  scalars: Record<string, [number, number][]>;
  hparams: {
    experiment?: Record<string, unknown>;
    start?: { hparams?: Record<string, unknown>; startTimeSecs?: number };
    end?: { status?: string; endTimeSecs?: number };
  };
}

/** The logdir as TensorBoard's own event reader and HParams metadata parser see it. */
function readWithTensorBoard(dir: string): Record<string, Read> {
  if (!fs.existsSync(PYTHON))
    throw new Error(
      `${PYTHON} is missing: tools/setup.sh installs tensorboard (tools/python/requirements.txt) into .venv`,
    );
  return JSON.parse(
    execFileSync(PYTHON, [path.join(__dirname, 'fixtures/read_tb.py'), dir], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    }),
  ) as Record<string, Read>;
}

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), `iccl-tb-${p}-`));

describe('CRC-32C of TFRecord framing', () => {
  it('matches the standard check value and the masking of the TFRecord format', () => {
    const nine = new TextEncoder().encode('123456789');
    expect(crc32c(nine)).toBe(0xe3069283); // CRC-32C check value (RFC 3720, iSCSI)
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // 32 zero bytes, RFC 3720 B.4
    const c = 0xe3069283;
    expect(maskedCrc32c(nine)).toBe(((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });
});

describe('TensorBoard tracker, read back by the tensorboard package', () => {
  it('a study: every scalar of every trial, each trial an HParams session with its values and status, the experiment on the logdir', async () => {
    const dir = tmp('study');
    const backend = new TensorBoardTrackingBackend({ dir, experimentName: 'demo' });
    const study = await backend.startRun({ name: 'demo' });
    study.logParams({ sampler: 'tpe' });
    const trials = [
      { lr: 0.1, method: 'iccl', balanced: true, status: 'FINISHED' as const },
      { lr: 0.0123, method: 'ce', balanced: false, status: 'FAILED' as const },
    ];
    const logged: Record<string, [number, number][]>[] = [];
    for (const [n, p] of trials.entries()) {
      const t = await backend.startRun({ name: `trial-${n}`, parentRunId: study.runId });
      t.logParams({ lr: p.lr, method: p.method, balanced: p.balanced });
      const mine: Record<string, [number, number][]> = { 'eval/top1': [], 'train/loss': [] };
      for (let s = 0; s < 5; s++) {
        const m = { 'eval/top1': 0.1 * s + n / 7, 'train/loss': 2 / (s + 1) };
        t.logMetrics(m, s);
        for (const [k, v] of Object.entries(m)) mine[k].push([s, Math.fround(v)]); // float32 on disk
      }
      logged.push(mine);
      await t.end(p.status, p.status === 'FAILED' ? 'non-finite loss' : undefined);
    }
    study.logMetrics({ 'best/value': 0.9 }, 0);
    await study.end('FINISHED');
    await backend.close();

    const read = readWithTensorBoard(dir);
    expect(Object.keys(read).sort()).toEqual(['.', 'demo', 'demo/trial-0', 'demo/trial-1']);
    for (const [n, p] of trials.entries()) {
      const r = read[`demo/trial-${n}`];
      expect(r.scalars).toEqual(logged[n]);
      expect(r.hparams.start!.hparams).toEqual({ lr: p.lr, method: p.method, balanced: p.balanced });
      expect(r.hparams.end!.status).toBe(p.status === 'FINISHED' ? 'STATUS_SUCCESS' : 'STATUS_FAILURE');
      expect(r.hparams.end!.endTimeSecs).toBeGreaterThanOrEqual(r.hparams.start!.startTimeSecs!);
    }
    // the study groups the trials: its own scalars, but no session of its own
    expect(read.demo.scalars['best/value']).toEqual([[0, Math.fround(0.9)]]);
    expect(read.demo.hparams).toEqual({});
    // the experiment: hparams with their domains, the scalars as metrics
    const exp = read['.'].hparams.experiment as {
      name: string;
      hparamInfos: Record<string, unknown>[];
      metricInfos: { name: { tag: string } }[];
    };
    expect(exp.name).toBe('demo');
    expect(exp.hparamInfos).toEqual([
      { name: 'balanced', type: 'DATA_TYPE_BOOL', domainDiscrete: [true, false] },
      { name: 'lr', type: 'DATA_TYPE_FLOAT64', domainInterval: { minValue: 0.0123, maxValue: 0.1 } },
      { name: 'method', type: 'DATA_TYPE_STRING', domainDiscrete: ['ce', 'iccl'] },
    ]);
    expect(exp.metricInfos.map((m) => m.name.tag)).toEqual(['eval/top1', 'train/loss']);
    expect(
      JSON.parse(fs.readFileSync(path.join(dir, 'demo/trial-1/tags.json'), 'utf8'))['run.end_reason'],
    ).toBe('non-finite loss');
  });

  it('a single run (the plugin runner): itself a session; artifacts copied beside it', async () => {
    const dir = tmp('single');
    const backend = new TensorBoardTrackingBackend({ dir });
    const t = await backend.startRun({ name: 'run 1/a' });
    t.logParams({ epochs: 3 });
    t.logMetrics({ loss: 1.5, skipped: NaN }, 7);
    const art = path.join(dir, 'x.csv');
    fs.writeFileSync(art, 'a,b\n');
    await t.logArtifact(art, 'tables');
    await t.end('KILLED');
    await backend.close();
    const read = readWithTensorBoard(dir);
    expect(read['run_1_a'].scalars).toEqual({ loss: [[7, 1.5]] });
    expect(read['run_1_a'].hparams.start!.hparams).toEqual({ epochs: 3 });
    expect(read['run_1_a'].hparams.end!.status).toBe('STATUS_FAILURE');
    expect(fs.readFileSync(path.join(dir, 'run_1_a/artifacts/tables/x.csv'), 'utf8')).toBe('a,b\n');
    expect(() => new TensorBoardTrackingBackend({ dir: '' })).toThrow(
      'tensorboard: a log directory is needed (tensorboard:DIR)',
    );
  });
});

describe('--tracker / --tracking tensorboard:DIR', () => {
  const tsx = (args: string[]) =>
    execFileSync(process.execPath, ['--import', 'tsx', ...args], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 240_000,
    });

  it('the plugin runner logs one trial; the search driver logs a study of trials, each an HParams session', () => {
    const dir = tmp('cli');
    tsx([
      'plugins/runner/src/cli.ts',
      '@iccl/toy',
      '--set',
      'x=0.5',
      '--tracker',
      `tensorboard:${dir}/one`,
      '--run-id',
      'r1',
      '--work-dir',
      path.join(dir, 'work'),
    ]);
    const one = readWithTensorBoard(path.join(dir, 'one'));
    expect(one.r1.hparams.start!.hparams).toMatchObject({ x: 0.5 });
    expect(one.r1.hparams.end!.status).toBe('STATUS_SUCCESS');
    expect(Object.keys(one.r1.scalars)).toContain('loss');

    const common = [
      '--storage',
      `journal:${dir}/s.journal`,
      '--runs-dir',
      path.join(dir, 'runs'),
      '--no-report',
    ];
    tsx([
      'search/src/driver/cli.ts',
      'run',
      '--space',
      'toy',
      '--study',
      'tb',
      '--trials',
      '2',
      '--workers',
      '1',
      '--tracking',
      `tensorboard:${dir}/study`,
      ...common,
    ]);
    const s = readWithTensorBoard(path.join(dir, 'study'));
    const sessions = Object.keys(s).filter((r) => s[r].hparams.start);
    expect(sessions).toHaveLength(2);
    for (const r of sessions) {
      expect(r.startsWith('tb/')).toBe(true);
      expect(Object.keys(s[r].hparams.start!.hparams!)).toEqual(expect.arrayContaining(['x', 'y', 'seed']));
      expect(s[r].scalars.loss.length).toBeGreaterThan(0);
    }
    const exp = s['.'].hparams.experiment as {
      hparamInfos: { name: string }[];
      metricInfos: { name: { tag: string } }[];
    };
    expect(exp.hparamInfos.map((h) => h.name)).toEqual(expect.arrayContaining(['x', 'y', 'seed']));
    expect(exp.metricInfos.map((m) => m.name.tag)).toContain('loss');
  }, 300_000);
});
