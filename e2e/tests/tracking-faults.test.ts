import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MlflowClient } from '@iccl/mlflow';
import { FaultProxy, type FaultMode } from '../../tools/fault-proxy/fault-proxy';
import { endState, startDriver, until, type Driver } from './support/fault-judge';

/**
 * Tracking faults against the real MLflow server, through a loopback TCP proxy that refuses,
 * drops or stalls connections: at study start, at a trial start, mid-trial, at the end, and still
 * down when the search ends (then resumed by a second driver). Each case judges from outside:
 * MLflow over REST, the journal through the real optuna. Short toy trials keep each case short.
 */
const TRIALS = 3;
const EPOCHS = 6;

describe('tracking faults: the search goes on, every point lands once, no run left RUNNING', () => {
  const real = new MlflowClient({ trackingUri: process.env.ICCL_TEST_MLFLOW_URI!, credentials: {} });
  let proxy: FaultProxy;

  beforeAll(async () => {
    if (!process.env.ICCL_TEST_MLFLOW_URI) throw new Error('ICCL_TEST_MLFLOW_URI is not set: run through e2e/jest.config.js (its globalSetup starts MLflow)');
    proxy = await FaultProxy.start({ targetPort: Number(new URL(real.trackingUri).port) });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  function study() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-faults-'));
    const name = `faults-${randomUUID().slice(0, 8)}`;
    const spoolDir = path.join(dir, 'spool');
    const journal = path.join(dir, 'studies.journal');
    const args = ['run', '--space', 'toy', '--study', name, '--trials', String(TRIALS), '--workers', '2', '--set', `epochs=${EPOCHS}`, '--set', 'sleepMs=400', '--pruner', 'nop',
      '--storage', `journal:${journal}`, '--tracking', `mlflow:${proxy.uri}`, '--runs-dir', path.join(dir, 'runs'), '--no-report'];
    const env = { ICCL_MLFLOW_SPOOL_DIR: spoolDir, MLFLOW_TRACKING_URI: undefined };
    const started = (n: number) => fs.existsSync(path.join(dir, 'runs', name, `trial-${n}`));
    const run = () => startDriver(args, env);
    const judge = () => endState({ client: real, experiment: name, journal, spoolDir, metric: 'loss' });
    return { name, run, started, judge };
  }

  async function finished(d: Driver) {
    const e = await d.exited;
    if (e.code !== 0) throw new Error(`driver exited ${e.code ?? e.signal}:\n${d.output().slice(-3000)}`);
    return e;
  }

  const allZero = { runsDuplicated: 0, runsMissing: 0, pointsLost: 0, pointsDuplicated: 0, runsRunning: 0, statusWrong: 0, spoolLeft: 0 };

  async function outage(s: ReturnType<typeof study>, mode: FaultMode, when: () => boolean, back: () => boolean) {
    const d = s.run();
    try {
      await until('the fault point', when, 120_000);
      await proxy.setMode(mode);
      await until('the end of the outage', back, 120_000);
    } finally {
      await proxy.setMode('pass');
    }
    await finished(d);
    return d;
  }

  test('down when the study starts (connections refused), back during the first trials', async () => {
    const s = study();
    await proxy.setMode('refuse');
    const d = s.run();
    try {
      await until('trial 0 to start', () => s.started(0), 120_000);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      await proxy.setMode('pass');
    }
    await finished(d);
    const end = await s.judge();
    expect(end).toMatchObject({ ...allZero, trialsComplete: TRIALS, studyRunStatus: 'FINISHED' });
    expect(end.pointsChecked).toBe(TRIALS * EPOCHS); // the judge saw every reported point
  });

  test('connections dropped while a trial starts', async () => {
    const s = study();
    const d = await outage(s, 'drop', () => s.started(1), () => s.started(2));
    expect(d.output()).not.toMatch(/cannot start MLflow run/);
    expect(await s.judge()).toMatchObject({ ...allZero, trialsComplete: TRIALS, studyRunStatus: 'FINISHED' });
  });

  test('server stalls mid-trial (accepts, never answers)', async () => {
    const s = study();
    let t0 = 0;
    await outage(s, 'stall', () => s.started(0) && (t0 ||= Date.now()) > 0 && Date.now() - t0 > 1500, () => Date.now() - t0 > 6000);
    expect(await s.judge()).toMatchObject({ ...allZero, trialsComplete: TRIALS, studyRunStatus: 'FINISHED' });
  });

  test('down at the end (the last trials end and the study run closes during the outage), back within the close grace', async () => {
    const s = study();
    const d = s.run();
    try {
      await until('the last trial to start', () => s.started(TRIALS - 1), 120_000);
      await proxy.setMode('refuse');
      await until('the closing summary', () => /trials \d+\/\d+ done/.test(d.output()), 120_000);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await proxy.setMode('pass');
    }
    await finished(d);
    expect(d.output()).not.toMatch(/wait in \d+ spool file/);
    expect(await s.judge()).toMatchObject({ ...allZero, trialsComplete: TRIALS, studyRunStatus: 'FINISHED' });
  });

  test('still down when the search ends: one closing line, and the next driver replays the spool', async () => {
    const s = study();
    const d = s.run();
    try {
      await until('trial 1 to start', () => s.started(1), 120_000);
      await proxy.setMode('refuse');
      await finished(d);
    } finally {
      await proxy.setMode('pass');
    }
    expect(d.output().match(/did not take everything/g)).toHaveLength(1);
    const before = await s.judge();
    expect(before.trialsComplete).toBe(TRIALS);
    expect(before.spoolLeft).toBeGreaterThan(0);
    const again = s.run(); // the same command: nothing left to run, the spool is replayed
    await finished(again);
    expect(again.output()).toMatch(/replayed \d+ spool file/);
    expect(await s.judge()).toMatchObject({ ...allZero, trialsComplete: TRIALS, studyRunStatus: 'FINISHED' });
  });
});
