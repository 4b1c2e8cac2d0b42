/**
 * The trial process: one forked child per trial (trial-child.ts under tsx), its start-up and trial
 * time limits, the abort-then-kill escalation, and the messages it sends. It knows nothing of
 * storage or tracking: reports and tracker calls go to the callbacks it is given.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { endWithThisProcess } from '@iccl/trainer-api';
import { StderrTail } from './gpu-errors';
import type { FromChild, ToChild, TrackCall } from './messages';

// From the sources the child is trial-child.ts under tsx; from a built package, trial-child.js under plain Node.
const CHILD = path.join(__dirname, `trial-child${path.extname(__filename)}`);

export type AbortKind = 'interrupt' | 'timeout';

export type TrialOutcome = {
  kind: 'done' | 'pruned' | 'failed' | 'crashed' | 'timeout' | 'interrupted';
  msg?: FromChild;
  reason?: string;
  /**
   * Metrics of the latest report: a trainer may name its final metrics differently from its
   * reports (e.g. `top1` vs `eval/top1`); objectives are looked up in the result first, then here.
   */
  lastReported: Record<string, number>;
};

export interface TrialProcessOptions {
  start: Omit<Extract<ToChild, { type: 'start' }>, 'type'>;
  /** Seconds a trial process may take to load its plugin. */
  startupSeconds: number;
  /** Seconds per trial, from the 'started' message (null: none). */
  trialTimeout: number | null;
  /** Ms a trial gets to stop after an abort before it is killed. */
  abortGraceMs: number;
  /** Extra environment for the child (e.g. the device it should use). */
  env?: Record<string, string>;
  /** Records a report; resolves to true when the trial should be pruned. Not asked after an abort. */
  onReport: (step: number, metrics: Record<string, number>, ask: boolean) => Promise<boolean>;
  onTrack: (m: TrackCall) => void;
  /** Resolves when the tracker calls forwarded so far are done (awaited before a crash is judged). */
  trackingSettled: () => Promise<void>;
}

export interface TrialProcess {
  child: ChildProcess;
  /** SIGKILL to the trial process and everything it started. */
  kill(): void;
  /** Asks the trial to stop (it ends as interrupted or timed out), killing it after the grace period. */
  abort(why: string, kind: AbortKind): void;
  outcome: Promise<TrialOutcome>;
  /** The last part of the child's stderr (passed through to ours), where a native crash says why. */
  stderrTail(): Promise<string>;
}

/** The loader that lets a forked process run TypeScript (tsx), as an absolute URL. */
function tsxExecArgv(): string[] {
  if (!CHILD.endsWith('.ts')) return [];
  const loader = require.resolve('tsx', { paths: [process.cwd(), __dirname] });
  return ['--import', `file://${loader}`];
}

/** SIGKILL to the trial's whole group (what its plugin started too); quiet when it is gone. */
function killGroup(child: ChildProcess): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

export function startTrialProcess(o: TrialProcessOptions): TrialProcess {
  // Its own process group, guarded by the watchdog: it ends when the driver ends, even by SIGKILL.
  const child = fork(CHILD, [], { execArgv: tsxExecArgv(), stdio: ['ignore', 'inherit', 'pipe', 'ipc'], env: { ...process.env, ...o.env }, detached: true });
  const release = child.pid ? endWithThisProcess(child.pid) : () => undefined;
  const tail = new StderrTail(child.stderr);
  let abortKind: AbortKind | null = null;
  let abortReason = '';
  let killer: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastReported: Record<string, number> = {};
  let resolveOutcome!: (x: TrialOutcome) => void;
  const outcome = new Promise<TrialOutcome>((r) => (resolveOutcome = r));
  let settled = false;
  const finish = (x: Omit<TrialOutcome, 'lastReported'>) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    clearTimeout(killer);
    resolveOutcome({ ...x, lastReported });
  };
  const aborted = () => ({ kind: abortKind === 'timeout' ? ('timeout' as const) : ('interrupted' as const), reason: abortReason });
  const abort = (why: string, kind: AbortKind) => {
    if (abortKind) return;
    abortKind = kind;
    abortReason = why;
    if (child.connected) child.send({ type: 'abort', reason: why } satisfies ToChild);
    killer = setTimeout(() => killGroup(child), o.abortGraceMs);
  };
  // Start-up (tsx, loading the plugin and TensorFlow) has its own limit; the trial's starts with training.
  timer = setTimeout(() => abort(`trial process did not start within ${o.startupSeconds}s`, 'timeout'), o.startupSeconds * 1000);

  const onReport = async (m: Extract<FromChild, { type: 'report' }>) => {
    let prune = false;
    let error: string | undefined;
    try {
      prune = await o.onReport(m.step, m.metrics, !abortKind);
    } catch (e) {
      error = `driver could not record the report: ${(e as Error).message}`;
    }
    if (abortKind) error = abortReason;
    if (child.connected) child.send({ type: 'reportAck', seq: m.seq, prune, error } satisfies ToChild);
  };

  child.on('message', (m: FromChild) => {
    if (m.type === 'started') {
      clearTimeout(timer);
      timer = o.trialTimeout ? setTimeout(() => abort(`trial time limit of ${o.trialTimeout}s exceeded`, 'timeout'), o.trialTimeout * 1000) : undefined;
    } else if (m.type === 'report') {
      lastReported = { ...lastReported, ...m.metrics };
      void onReport(m);
    } else if (m.type === 'track') {
      o.onTrack(m);
    } else if (m.type === 'failed' && abortKind) {
      finish(aborted());
    } else if (m.type === 'done' || m.type === 'pruned' || m.type === 'failed') {
      finish({ kind: m.type, msg: m });
    }
  });
  child.on('exit', (code, signal) => {
    killGroup(child); // anything the plugin left behind in the trial's group
    release();
    void o.trackingSettled().then(() => {
      if (abortKind) finish(aborted());
      finish({ kind: 'crashed', reason: `trial process exited (${signal ? `signal ${signal}` : `code ${code}`}) without a result` });
    });
  });
  child.on('error', (e) => finish({ kind: 'crashed', reason: `trial process: ${e.message}` }));
  child.send({ type: 'start', ...o.start } satisfies ToChild);
  return { child, kill: () => killGroup(child), abort, outcome, stderrTail: () => tail.final() };
}
