import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { consoleLogger, type Logger, type StartRunOptions, type Tracker, type TrackingBackend } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import { DEFAULT_RETRY, retryingWith, sleep } from './backoff';
import { RUN_KEY_TAG, type RecordWriteError } from './records';
import { findRunByKey, parseKeyRef } from './run-open';
import { SpoolRecovery } from './spool-recovery';
import { systemTags } from './system-tags';
import { MlflowTracker, type MlflowTrackerOptions, type RunHeader } from './tracker';
import { syncCommand } from './sync-command';

export interface MlflowBackendOptions {
  client: MlflowClient;
  /** Experiment that holds the runs (default: $MLFLOW_EXPERIMENT_NAME, else "Default"). */
  experimentName?: string;
  /** Where outage spools go (default: $ICCL_MLFLOW_SPOOL_DIR, else <cwd>/.mlflow-spool). */
  spoolDir?: string;
  logger?: Logger;
  /** Tags for every run: backend, device, TF version... */
  tags?: Record<string, string>;
  tracker?: Partial<Pick<MlflowTrackerOptions, 'flushIntervalMs' | 'retry' | 'probeIntervalMs' | 'waitMs'>> & {
    /** How long startRun() waits for the run to be created before it returns with a key reference (default 5 s). */
    startWaitMs?: number;
    /** How long close() waits for unsettled runs (server down, slow) before it leaves them spooled (default 10 s). */
    closeGraceMs?: number;
  };
  /** Flush open runs on SIGINT (default true). */
  handleSigint?: boolean;
  /** Called by close() after the runs are flushed (stops a server we started). */
  onClose?: () => Promise<void>;
  /** The local server this backend logs through, when it started one. */
  localServer?: { uri: string; pid: number | undefined };
  /**
   * Resolves when a server this backend started is up (or failed to start); close() waits for it
   * first. Until then runs find the server away without a warning (it was announced as starting).
   */
  ready?: Promise<void>;
}

/**
 * TrackingBackend over an MLflow tracking server: a study is a parent run, each trial a child
 * run (tag `mlflow.parentRunId`), resume reattaches to a run id and sets it RUNNING again.
 * Never on the caller's critical path: startRun() returns within `startWaitMs` whether the
 * server answers or not (runs are created when it does), spools that earlier processes left in
 * the spool folder are replayed as soon as the server answers, and close() leaves what the server
 * could not take in the spool, with one line saying so, for the next start to replay.
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
  private offline = false;
  private everReached = false;
  /** Replays the spools of earlier processes (close() waits while its progress grows). */
  private readonly recovery: SpoolRecovery;
  private toldDisk = new Set<string>();
  /** A local server this backend started is still on its way. */
  private serverStarting: boolean;

  constructor(private readonly opts: MlflowBackendOptions) {
    this.client = opts.client;
    this.experimentName = opts.experimentName ?? process.env.MLFLOW_EXPERIMENT_NAME ?? 'Default';
    this.spoolDir = opts.spoolDir ?? process.env.ICCL_MLFLOW_SPOOL_DIR ?? path.join(process.cwd(), '.mlflow-spool');
    this.logger = opts.logger ?? consoleLogger('mlflow');
    this.serverStarting = opts.ready !== undefined;
    void opts.ready?.finally(() => (this.serverStarting = false)).catch(() => undefined);
    this.recovery = new SpoolRecovery({
      client: this.client,
      spoolDir: this.spoolDir,
      logger: this.logger,
      retry: opts.tracker?.retry,
      probeIntervalMs: opts.tracker?.probeIntervalMs ?? 2000,
      onReached: () => (this.everReached = true),
      onDone: () => this.open.forEach((t) => t.poke()),
    });
  }

  /** The experiment id, created on first use. */
  experimentId(): Promise<string> {
    if (!this.expId) {
      this.expId = this.retrying(() => this.client.getOrCreateExperiment(this.experimentName));
      this.expId.catch(() => (this.expId = undefined));
    }
    return this.expId;
  }

  /** The local server this backend started (undefined for a remote one). */
  get localServer(): { uri: string; pid: number | undefined } | undefined {
    return this.opts.localServer;
  }

  /** Spool files of earlier processes not replayed yet. */
  get pendingSpools(): readonly string[] {
    return this.recovery.pending;
  }

  async startRun(options: StartRunOptions): Promise<Tracker> {
    const resumeKey = parseKeyRef(options.resumeRunId);
    const parentKey = parseKeyRef(options.parentRunId);
    const resumed = options.resumeRunId !== undefined;
    const key = resumeKey ?? randomUUID();
    const tags: Record<string, string> = resumed
      ? {}
      : { ...systemTags(), ...(this.opts.tags ?? {}), ...(options.tags ?? {}), 'mlflow.runName': options.name, [RUN_KEY_TAG]: key };
    const header: RunHeader = {
      op: 'run',
      key,
      experiment: this.experimentName,
      name: options.name,
      parentKey,
      parentRunId: parentKey ? undefined : options.parentRunId,
      resumeRunId: resumeKey ? undefined : options.resumeRunId,
      tags,
      startTime: Date.now(),
    };
    this.ensureSpoolDir();
    const t = this.opts.tracker ?? {};
    const tracker: MlflowTracker = new MlflowTracker({
      client: this.client,
      header,
      mayExist: resumeKey !== undefined,
      experimentId: () => this.experimentId(),
      resolveParent: parentKey ? () => this.resolveKey(parentKey) : undefined,
      ready: () => this.readyFor(tracker),
      serverStarting: () => this.serverStarting,
      spoolDir: this.spoolDir,
      logger: this.logger,
      flushIntervalMs: t.flushIntervalMs,
      retry: t.retry,
      probeIntervalMs: t.probeIntervalMs,
      waitMs: t.waitMs,
      onOffline: (down) => this.setOffline(down),
      onSpoolError: (e) => this.spoolError(e),
      onSettled: (x) => this.open.delete(x),
    });
    this.open.add(tracker);
    if (resumed) tracker.setTags({ ...(options.tags ?? {}), 'iccl.resumed_at': new Date().toISOString() });
    this.installSigint();
    const opened = await tracker.whenOpened(this.offline ? 0 : (t.startWaitMs ?? 5000));
    if (tracker.openError !== undefined) {
      // Refused, not unreachable (credentials, permissions, a bad experiment): a set-up error to see now.
      tracker.abandon();
      this.open.delete(tracker);
      throw new Error(`cannot start MLflow run ${JSON.stringify(options.name)}: ${tracker.openError}`);
    }
    // No answer in time: later runs do not wait for this server until it answers again.
    if (!opened) this.offline = true;
    return tracker;
  }

  /** Runs started here and not yet settled (ended and all on the server). */
  get openRuns(): readonly MlflowTracker[] {
    return [...this.open];
  }

  /**
   * Waits (at most `closeGraceMs`) for every run to reach the server; what is still unsent then
   * stays in the spool, and one line says where and that the next start replays it.
   */
  async close(): Promise<void> {
    // A local server still starting is on its way, not away: wait for it before the grace starts.
    await this.opts.ready?.catch(() => undefined);
    const grace = this.opts.tracker?.closeGraceMs ?? 10_000;
    await Promise.all([...this.open].map((t) => t.flush()));
    for (const t of this.open) t.poke();
    await this.whileProgressing(grace);
    this.recovery.stop();
    const left: string[] = [];
    let runs = 0;
    for (const t of [...this.open]) {
      const files = t.abandon();
      if (files.length || t.inMemory) runs++;
      left.push(...files);
    }
    left.push(...this.recovery.pending);
    runs += this.recovery.pending.length;
    if (left.length) {
      // Never reached at all is more often a wrong address than an outage: say what to check.
      const why = this.everReached ? 'did not take everything before the end' : 'was never reachable during this search (check MLFLOW_TRACKING_URI or --tracking mlflow:URI)';
      this.logger.warn(
        `mlflow: server ${this.client.trackingUri} ${why}: ${runs} run(s) wait in ${left.length} spool file(s) in ${this.spoolDir}; ` +
          `the next search started with this spool folder replays them (or now: ${syncCommand()} ${this.spoolDir} --tracking-uri ${this.client.trackingUri})`,
      );
    }
    if (this.sigint) process.removeListener('SIGINT', this.sigint);
    this.sigint = undefined;
    await this.opts.onClose?.();
  }

  /**
   * Waits until every run is settled and older spools are replayed, for as long as that makes
   * progress: a slow server replaying a long outage is given the time it needs, a server that is
   * away is given `graceMs` (an hour at most in all).
   */
  private async whileProgressing(graceMs: number): Promise<void> {
    const progress = () => this.recovery.progress + [...this.open].reduce((a, t) => a + t.progress, 0);
    let last = progress();
    let lastChange = Date.now();
    const end = Date.now() + 3_600_000;
    while ((this.open.size > 0 || !this.recovery.recovered) && Date.now() - lastChange < graceMs && Date.now() < end) {
      await sleep(Math.min(250, graceMs)); // a kept timer: close() must hold the process until it is done
      const now = progress();
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      }
    }
  }

  /** A run may log only after older operations on the same run (older spools, older trackers) landed. */
  private readyFor(t: MlflowTracker): boolean {
    if (!this.recovery.recovered) return false;
    for (const o of this.open) {
      if (o !== t && o.seq < t.seq && (o.runKey === t.runKey || (o.resolved && o.runId === t.runId))) return false;
    }
    return true;
  }

  /** Server id of a run known by key: a run of this process, else one already on the server. */
  private async resolveKey(key: string): Promise<string | undefined> {
    for (const t of this.open) if (t.runKey === key) return t.resolved ? t.runId : undefined;
    if (!this.recovery.recovered) return undefined;
    try {
      return (await findRunByKey(this.client, await this.experimentId(), key, (fn) => this.retrying(fn)))?.info.run_id;
    } catch {
      return undefined;
    }
  }

  private setOffline(down: boolean): void {
    const was = this.offline;
    if (!down) this.everReached = true;
    this.offline = down;
    // One run found the server back: tell the others now rather than at their next probe.
    if (was && !down) for (const t of this.open) t.poke();
  }

  private spoolError(e: RecordWriteError): void {
    // One line for the folder (a full disk fails every run's writes there, each with its own file).
    if (this.toldDisk.has(this.spoolDir)) return;
    this.toldDisk.add(this.spoolDir);
    this.logger.error(`mlflow: ${e.message}; the runs' operations stay in memory (nothing written is lost) until the disk has room or the server answers`);
  }

  private ensureSpoolDir(): void {
    if (fs.existsSync(this.spoolDir)) return;
    fs.mkdirSync(this.spoolDir, { recursive: true });
    // Self-ignoring: a spool inside a checkout never shows up in git status.
    fs.writeFileSync(path.join(this.spoolDir, '.gitignore'), '*\n');
  }

  /** Transient errors are retried a few times; anything else is the caller's to see. */
  private retrying<T>(fn: () => Promise<T>): Promise<T> {
    return retryingWith(this.opts.tracker?.retry ?? DEFAULT_RETRY)(fn);
  }

  /** On Ctrl-C, write out what is queued; then behave as if we were not listening. */
  private installSigint(): void {
    if (this.sigint || this.opts.handleSigint === false) return;
    this.sigint = () => {
      const handler = this.sigint;
      this.logger.warn(`mlflow: interrupted; flushing ${this.open.size} open run(s)`);
      const done = Promise.all([...this.open].map((t) => t.flush(4500)));
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
