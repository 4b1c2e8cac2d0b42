/**
 * Entry of a trial process (forked by the driver with tsx as loader): runs one trainer plugin call
 * in its own process, so native TensorFlow memory dies with it, through the runner's trainTrial (as
 * iccl-run does). It owns no storage: reports go to the parent, which writes them and asks the
 * pruner; tracker calls (the parameters trainTrial logs among them) are forwarded the same way.
 */
import './signal-guard';
import { consoleLogger, loadPlugin, TrialPruned, type DatasetInfo, type Tracker } from '@iccl/trainer-api';
import { trainTrial } from '@iccl/runner';
import type { FromChild, ToChild, TrackCall } from './messages';

function send(m: FromChild): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

class IpcTracker implements Tracker {
  constructor(readonly runId: string) {}
  private fwd(c: TrackCall): void {
    void send({ type: 'track', ...c });
  }
  logParams(params: Record<string, string | number | boolean>): void {
    this.fwd({ call: 'logParams', params });
  }
  logMetrics(metrics: Record<string, number>, step?: number, timestamp?: number): void {
    this.fwd({ call: 'logMetrics', metrics, step, timestamp });
  }
  setTags(tags: Record<string, string>): void {
    this.fwd({ call: 'setTags', tags });
  }
  logInput(dataset: DatasetInfo): void {
    this.fwd({ call: 'logInput', dataset });
  }
  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    await send({ type: 'track', call: 'logArtifact', localPath, artifactPath });
  }
  async flush(): Promise<void> {}
  async end(): Promise<void> {}
}

const abort = new AbortController();
const pending = new Map<number, (prune: boolean, error?: string) => void>();
let seq = 0;

async function run(start: Extract<ToChild, { type: 'start' }>): Promise<void> {
  // The device arrives once, in the start message: for loadTf() without an argument, and as the
  // plugin's `device` parameter when it has one and the search space does not set it.
  process.env.ICCL_DEVICE = start.device;
  const runId = `${start.studyName}#${start.number}`;
  try {
    const plugin = loadPlugin(start.plugin);
    const raw = { ...start.params };
    if ('device' in plugin.params && raw.device === undefined) raw.device = start.device;
    const result = await trainTrial(plugin, raw, {
      trialId: runId,
      workDir: start.workDir,
      signal: abort.signal,
      tracker: new IpcTracker(runId),
      log: consoleLogger(`trial ${start.number}`),
      onStart: () => void send({ type: 'started' }),
      report: (step, metrics) =>
        new Promise<void>((resolve, reject) => {
          const id = ++seq;
          pending.set(id, (prune, error) => {
            if (error) reject(new Error(error));
            else if (prune) reject(new TrialPruned(step));
            else resolve();
          });
          void send({ type: 'report', seq: id, step, metrics });
        }),
    });
    await send({ type: 'done', metrics: result.metrics, objective: result.objective, artifacts: result.artifacts });
  } catch (e) {
    if (e instanceof TrialPruned) await send({ type: 'pruned', step: e.step });
    else await send({ type: 'failed', reason: e instanceof Error ? `${e.name === 'Error' ? '' : e.name + ': '}${e.message}` : String(e), aborted: abort.signal.aborted });
  }
  // Let the IPC queue drain before leaving.
  process.disconnect?.();
}

process.on('message', (m: ToChild) => {
  if (m.type === 'start') void run(m);
  else if (m.type === 'reportAck') {
    pending.get(m.seq)?.(m.prune, m.error);
    pending.delete(m.seq);
  } else if (m.type === 'abort') abort.abort(new Error(m.reason));
});
// Ctrl-C reaches the whole process group, and Slurm's SIGTERM (scancel, time limit) every process of
// the job: the parent decides, via an 'abort' message, so the trial ends as interrupted (a free retry).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
// The parent died (e.g. SIGKILL): nobody will record our result, so stop at once.
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
