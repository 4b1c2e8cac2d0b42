import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { consoleLogger, type Logger, type StartRunOptions, type Tracker, type TrackingBackend } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import { MlflowApiError } from './errors';
import { backoffMs, DEFAULT_RETRY, sleep } from './backoff';
import { LIMITS } from './limits';
import { RUN_KEY_TAG } from './records';
import { systemTags } from './system-tags';
import { MlflowTracker, type MlflowTrackerOptions, type RunHeader } from './tracker';
import type { Run } from './schemas';

export interface MlflowBackendOptions {
  client: MlflowClient;
  /** Experiment that holds the runs (default: $MLFLOW_EXPERIMENT_NAME, else "Default"). */
  experimentName?: string;
  /** Where outage spools go (default: $ICCL_MLFLOW_SPOOL_DIR, else <cwd>/.mlflow-spool). */
  spoolDir?: string;
  logger?: Logger;
  /** Tags for every run: backend, device, TF version... */
  tags?: Record<string, string>;
  tracker?: Partial<Pick<MlflowTrackerOptions, 'flushIntervalMs' | 'retry' | 'probeIntervalMs' | 'endGraceMs'>>;
  /** Flush open runs on SIGINT (default true). */
  handleSigint?: boolean;
  /** Called by close() after the runs are flushed (stops a server we started). */
  onClose?: () => Promise<void>;
}

/** Splits tags so that run creation carries at most 100 short ones; the rest go through the tracker. */
function splitCreateTags(tags: Record<string, string>): { now: { key: string; value: string }[]; later: Record<string, string> } {
  const now: { key: string; value: string }[] = [];
  const later: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (now.length < LIMITS.tagsPerBatch && key.length <= LIMITS.keyLength && value.length <= LIMITS.tagValueLength) now.push({ key, value });
    else later[key] = value;
  }
  return { now, later };
}

/**
 * TrackingBackend over an MLflow tracking server: a study is a parent run, each trial a child
 * run (tag `mlflow.parentRunId`), resume reattaches to a run id and sets it RUNNING again.
 */
export class MlflowTrackingBackend implements TrackingBackend {
  readonly name = 'mlflow';
  readonly client: MlflowClient;
  readonly experimentName: string;
  readonly spoolDir: string;
  private readonly logger: Logger;
  private expId: Promise<string> | undefined;
  private readonly open = new Set<MlflowTracker>();
  private sigint: (() => void) | undefined;

  constructor(private readonly opts: MlflowBackendOptions) {
    this.client = opts.client;
    this.experimentName = opts.experimentName ?? process.env.MLFLOW_EXPERIMENT_NAME ?? 'Default';
    this.spoolDir = opts.spoolDir ?? process.env.ICCL_MLFLOW_SPOOL_DIR ?? path.join(process.cwd(), '.mlflow-spool');
    this.logger = opts.logger ?? consoleLogger('mlflow');
  }

  /** The experiment id, created on first use. */
  experimentId(): Promise<string> {
    if (!this.expId) {
      this.expId = this.retrying(() => this.client.getOrCreateExperiment(this.experimentName));
      this.expId.catch(() => (this.expId = undefined));
    }
    return this.expId;
  }

  async startRun(options: StartRunOptions): Promise<Tracker> {
    try {
      return await this.start(options);
    } catch (e) {
      const msg = e instanceof MlflowApiError ? e.message : this.client.redact((e as Error).message);
      // An unreachable server is the common first-day mistake: say what to change.
      const hint = /cannot reach/.test(msg)
        ? '; start the server, or point MLFLOW_TRACKING_URI (or --tracking mlflow:URI) at a running one, or unset it to use the local ./mlflow.db'
        : '';
      throw new Error(`cannot start MLflow run ${JSON.stringify(options.name)}: ${msg}${hint}`);
    }
  }

  private async start(options: StartRunOptions): Promise<MlflowTracker> {
    const experimentId = await this.experimentId();
    let run: Run;
    let key: string;
    let later: Record<string, string> = {};
    if (options.resumeRunId) {
      try {
        run = await this.retrying(() => this.client.getRun(options.resumeRunId!));
      } catch (e) {
        if (e instanceof MlflowApiError && e.notFound) throw new Error(`resumeRunId ${options.resumeRunId}: no such run at ${this.client.trackingUri}`);
        throw e;
      }
      await this.retrying(() => this.client.updateRun({ runId: run.info.run_id, status: 'RUNNING' }));
      key = run.data.tags.find((t) => t.key === RUN_KEY_TAG)?.value ?? randomUUID();
      later = { ...(options.tags ?? {}), [RUN_KEY_TAG]: key, 'iccl.resumed_at': new Date().toISOString() };
    } else {
      key = randomUUID();
      const tags: Record<string, string> = {
        ...systemTags(),
        ...(this.opts.tags ?? {}),
        ...(options.tags ?? {}),
        'mlflow.runName': options.name,
        [RUN_KEY_TAG]: key,
      };
      if (options.parentRunId) tags['mlflow.parentRunId'] = options.parentRunId;
      const split = splitCreateTags(tags);
      later = split.later;
      run = await this.retrying(() => this.client.createRun({ experimentId, runName: options.name, startTime: Date.now(), tags: split.now, userId: tags['mlflow.user'] }));
    }
    const header: RunHeader = {
      op: 'run',
      key,
      experiment: this.experimentName,
      name: options.name,
      parentRunId: options.parentRunId,
      runId: run.info.run_id,
      tags: { ...(options.tags ?? {}) },
      startTime: run.info.start_time ?? Date.now(),
    };
    this.ensureSpoolDir();
    const tracker = new MlflowTracker({
      client: this.client,
      runId: run.info.run_id,
      artifactUri: run.info.artifact_uri,
      header,
      spoolDir: this.spoolDir,
      logger: this.logger,
      ...(this.opts.tracker ?? {}),
      onEnd: (t) => this.open.delete(t),
    });
    if (Object.keys(later).length) tracker.setTags(later);
    this.open.add(tracker);
    this.installSigint();
    return tracker;
  }

  /** Runs started here and not yet ended. */
  get openRuns(): readonly MlflowTracker[] {
    return [...this.open];
  }

  async close(): Promise<void> {
    await Promise.all([...this.open].map((t) => t.flush()));
    if (this.sigint) process.removeListener('SIGINT', this.sigint);
    this.sigint = undefined;
    await this.opts.onClose?.();
  }

  private ensureSpoolDir(): void {
    if (fs.existsSync(this.spoolDir)) return;
    fs.mkdirSync(this.spoolDir, { recursive: true });
    // Self-ignoring: a spool inside a checkout never shows up in git status.
    fs.writeFileSync(path.join(this.spoolDir, '.gitignore'), '*\n');
  }

  /** Transient errors at run start are retried a few times; anything else is the caller's to see. */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.opts.tracker?.retry ?? DEFAULT_RETRY;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof MlflowApiError) || !e.retryable || attempt + 1 >= p.attempts) throw e;
        await sleep(backoffMs(attempt, p));
      }
    }
  }

  /** On Ctrl-C, write out what is queued; then behave as if we were not listening. */
  private installSigint(): void {
    if (this.sigint || this.opts.handleSigint === false) return;
    this.sigint = () => {
      const handler = this.sigint;
      this.logger.warn(`mlflow: interrupted; flushing ${this.open.size} open run(s)`);
      const done = Promise.race([Promise.all([...this.open].map((t) => t.flush())), sleep(5000)]);
      void done.then(() => {
        if (handler) process.removeListener('SIGINT', handler);
        this.sigint = undefined;
        // Nobody else handles Ctrl-C: exit as Node would have.
        if (process.listenerCount('SIGINT') === 0) process.kill(process.pid, 'SIGINT');
      });
    };
    process.on('SIGINT', this.sigint);
  }
}
