import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DatasetInfo, Logger, RunStatus, Tracker } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import { MlflowApiError } from './errors';
import { backoffMs, DEFAULT_RETRY, sleep, type RetryPolicy } from './backoff';
import { checkKey, LIMITS, splitBatches, type Batch, type MetricPoint } from './limits';
import { prepareValues, stringifyParam, toMlflowDataset } from './prepare';
import { RecordFile, RecordWriteError, storePoint, type JournalRecord } from './records';
import { normalizeArtifactPath } from './artifact-path';
import { deleteTwins, keyRef, openRun, type RunRecord } from './run-open';
import { isUnreachable, sync } from './sync';
import { liveSpools, removeReplayedSpool, SPOOL_SUFFIX, spoolOwner } from './spool';

/** The 'run' record that opens a spool file, so a replay can find or create the run anywhere. */
export type RunHeader = RunRecord;

export interface MlflowTrackerOptions {
  client: MlflowClient;
  /** What the run is: key, name, experiment, tags; runId / resumeRunId when it already exists. */
  header: RunHeader;
  experimentId: () => Promise<string>;
  /** Server id of the parent named by `header.parentKey`; undefined while the parent is not on the server. */
  resolveParent?: () => Promise<string | undefined>;
  /** False while operations that must land before this run's (older spools) are not replayed yet. */
  ready?: () => boolean;
  /** Folder for the outage spool and oversize values of this run. */
  spoolDir: string;
  logger: Logger;
  flushIntervalMs?: number;
  retry?: RetryPolicy;
  /** How often to look for the server again while spooling. */
  probeIntervalMs?: number;
  /** How long flush(), logArtifact() and end() wait for the server before they spool what is left and return. */
  waitMs?: number;
  /** Told when this tracker finds the server gone (true) or back, or creates its run (false). */
  onOffline?: (offline: boolean) => void;
  /** Told once a spool write fails (full disk): the error names the file. */
  onSpoolError?: (e: RecordWriteError, t: MlflowTracker) => void;
  /** Called once the run is ended and everything is on the server. */
  onSettled?: (t: MlflowTracker) => void;
  /** The run may exist already under its key (resumed by key): look it up before creating it. */
  mayExist?: boolean;
}

/** A queued operation; batches keep their points as numbers until (and unless) they are spooled. */
type Op =
  | { op: 'batch'; key: string; metrics: MetricPoint[]; params: Batch['params']; tags: Batch['tags'] }
  | (JournalRecord & { op: 'inputs' | 'artifact' | 'end' });

/** Counts shown in the end summary (tags `iccl.tracking.*` and one log line). */
export interface TrackerStats {
  sent: number;
  failed: number;
  spooled: number;
  replayed: number;
  retries: number;
}

type SendResult = 'ok' | 'failed' | 'unreachable';

/**
 * An MLflow run behind a queue; tracking is never on the caller's critical path. Logging calls
 * validate, enqueue and return; a background flusher creates the run (when the server first
 * answers: until then `runId` is a key reference, see run-open.ts), sends log-batch requests within
 * MLflow's limits, retries transient errors with backoff, and while the server is unreachable (or
 * slower than `waitMs` when the caller waits) appends operations to a spool file that it replays,
 * in order and idempotently, once the server answers again. Nothing here throws because of the
 * server: failures are warnings, counted in `stats` and in the run's end tags.
 */
export class MlflowTracker implements Tracker {
  readonly runKey: string;
  readonly stats: TrackerStats = { sent: 0, failed: 0, spooled: 0, replayed: 0, retries: 0 };
  /** Order of creation in this process (a resumed run waits for older trackers of the same run). */
  readonly seq: number;
  private static nextSeq = 0;
  private id: string | undefined;
  private artifactUri: string | undefined;
  private opened = false;
  /** A create request may have reached the server: look the run up by key before creating one. */
  private mayExist: boolean;
  private pending: Batch = { metrics: [], params: [], tags: [] };
  private pendingOps: Op[] = [];
  private inflight: Op | undefined;
  private inflightSpooled = false;
  private chain: Promise<void> = Promise.resolve();
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private offline = false;
  private lastProbe = 0;
  private spool: RecordFile | undefined;
  private spoolHasHeader = false;
  private readonly instance = randomUUID().slice(0, 8);
  private segment = 0;
  private replaying = false;
  private ended = false;
  private abandoned = false;
  private isSettled = false;
  private toldSpoolError = false;
  private openFailure: string | undefined;
  private replayProgress = 0;
  /** A create request may have landed unanswered: look for a twin run once everything is sent. */
  private twinCheck: 'no' | 'due' | 'done' = 'no';
  private waiters: (() => void)[] = [];
  private readonly o: Required<Pick<MlflowTrackerOptions, 'flushIntervalMs' | 'retry' | 'probeIntervalMs' | 'waitMs'>> & MlflowTrackerOptions;

  constructor(opts: MlflowTrackerOptions) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as MlflowTrackerOptions;
    this.o = { flushIntervalMs: 1000, retry: DEFAULT_RETRY, probeIntervalMs: 2000, waitMs: 2000, ...given };
    this.runKey = opts.header.key;
    this.mayExist = opts.mayExist ?? false;
    this.seq = MlflowTracker.nextSeq++;
    this.timer = setInterval(() => this.kick(), this.o.flushIntervalMs);
    this.timer.unref();
    this.kick(); // open the run now
  }

  /** The MLflow run id once the run is on the server; before that the resumed id or a key reference. */
  get runId(): string {
    return this.id ?? this.o.header.resumeRunId ?? this.o.header.runId ?? keyRef(this.runKey);
  }

  /** True once the run exists on the server and `runId` is its id. */
  get resolved(): boolean {
    return this.opened;
  }

  /** The current spool file of this run (exists only after an outage). */
  get spoolFile(): string {
    return path.join(this.o.spoolDir, `${this.runKey}.${this.instance}-${this.segment}${SPOOL_SUFFIX}`);
  }

  /** True while the server is unreachable and operations go to the spool. */
  get spooling(): boolean {
    return this.offline;
  }

  /** Ended, and everything is on the server. */
  get settled(): boolean {
    return this.isSettled;
  }

  /** Grows with every request that reached the server (sends and replayed records). */
  get progress(): number {
    return this.stats.sent + this.replayProgress;
  }

  /** Operations held in memory (not yet sent nor spooled). */
  get inMemory(): number {
    const p = this.pending;
    return this.pendingOps.length + p.metrics.length + p.params.length + p.tags.length + (this.inflight && !this.inflightSpooled ? 1 : 0);
  }

  // ---- Tracker: logging calls never block and never throw --------------------------------------

  logParams(params: Record<string, string | number | boolean>): void {
    this.guard('logParams', () => {
      const p = prepareValues('params', Object.entries(params).map(([k, v]) => [k, stringifyParam(v)]), this.scratch());
      this.reject(p.rejected);
      this.pending.params.push(...p.items);
      this.pending.tags.push(...p.notes);
      for (const a of p.artifacts) this.enqueueOp({ op: 'artifact', key: this.runKey, file: a.file, artifactPath: a.artifactPath });
    });
  }

  logMetrics(metrics: Record<string, number>, step = 0, timestamp = Date.now()): void {
    // The hot path (every step of every trial): plain loop, no closures, checks only what can fail.
    const s = Math.trunc(step);
    const out = this.pending.metrics;
    for (const key in metrics) {
      const value = metrics[key];
      if (typeof value !== 'number' || key.length === 0 || key.length > LIMITS.keyLength) {
        this.reject([checkKey('metric', key) ?? `metric ${key}: value ${JSON.stringify(value)} is not a number`]);
        continue;
      }
      out.push({ key, value, timestamp, step: s });
    }
    if (out.length >= 1000) this.kick();
  }

  setTags(tags: Record<string, string>): void {
    this.guard('setTags', () => {
      const p = prepareValues('tags', Object.entries(tags).map(([k, v]) => [k, String(v)]), this.scratch());
      this.reject(p.rejected);
      this.pending.tags.push(...p.items, ...p.notes);
      for (const a of p.artifacts) this.enqueueOp({ op: 'artifact', key: this.runKey, file: a.file, artifactPath: a.artifactPath });
    });
  }

  logInput(dataset: DatasetInfo): void {
    this.guard('logInput', () => this.enqueueOp({ op: 'inputs', key: this.runKey, datasets: [toMlflowDataset(dataset)] }));
  }

  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    let folder: string;
    try {
      folder = normalizeArtifactPath(artifactPath);
      const st = fs.statSync(localPath);
      if (!st.isFile()) throw new Error(`artifact ${localPath}: expected a regular file`);
    } catch (e) {
      this.reject([(e as Error).message]);
      return;
    }
    // Queued behind earlier operations so that an outage spools it in order like the rest.
    this.enqueueOp({ op: 'artifact', key: this.runKey, file: localPath, artifactPath: folder || undefined });
    await this.flush();
  }

  /** Waits until everything queued so far is sent or spooled; after `waitMs` it spools what is left. */
  async flush(waitMs = this.o.waitMs): Promise<void> {
    this.sealPending();
    this.kick();
    if (!(await this.waitFor(() => this.inMemory === 0 || this.abandoned, waitMs))) this.spill();
  }

  async end(status: RunStatus, reason?: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (reason) this.setTags({ 'iccl.end_reason': reason });
    // The summary goes last so it counts everything before it.
    const s = this.stats;
    this.pending.tags.push(
      { key: 'iccl.tracking.failed', value: String(s.failed) },
      { key: 'iccl.tracking.spooled', value: String(s.spooled) },
    );
    this.enqueueOp({ op: 'end', key: this.runKey, status, endTime: Date.now() });
    await this.flush();
  }

  /** Resolves true once the run is ended and all on the server, false after `ms`. */
  whenSettled(ms: number): Promise<boolean> {
    return this.waitFor(() => this.isSettled, ms);
  }

  /** Resolves once the run is on the server, the server was found unreachable or refused the run, or after `ms`. */
  whenOpened(ms: number): Promise<boolean> {
    return this.waitFor(() => this.opened || this.offline || this.openFailure !== undefined, ms).then(() => this.opened && !this.openFailure);
  }

  /** Why the server refused to create the run (credentials, permissions...); undefined if it did not. */
  get openError(): string | undefined {
    return this.openFailure;
  }

  /** Look for the server now (another run found it back, or older spools are replayed). */
  poke(): void {
    this.lastProbe = 0;
    this.kick();
  }

  /**
   * The process is about to end while this run is not settled: write what memory holds to the
   * spool (for the next start to replay) and stop. Returns the spool files left, if any.
   */
  abandon(): string[] {
    if (this.isSettled) return [];
    this.sealPending();
    const ops: Op[] = [];
    if (this.inflight && !this.inflightSpooled) ops.push(this.inflight);
    ops.push(...this.pendingOps.splice(0));
    // A file being replayed may be deleted when its replay ends: write into a new one.
    if (this.replaying) this.newSegment();
    if (ops.length) this.spoolOps(ops);
    this.abandoned = true;
    this.stop();
    const left = this.leftFiles();
    for (const f of left) liveSpools.delete(path.resolve(f));
    return left;
  }

  // ---- queue machinery ---------------------------------------------------------------------------

  private scratch(): string {
    return path.join(this.o.spoolDir, `${this.runKey}.files`);
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.reject([`${what}: ${(e as Error).message}`]);
    }
  }

  private reject(messages: string[]): void {
    for (const m of messages) {
      this.stats.failed++;
      this.o.logger.warn(`mlflow: not logged: ${this.o.client.redact(m)}`);
    }
  }

  private enqueueOp(op: Op): void {
    // Keep order between queued items and this op: move what is pending into a batch op first.
    this.sealPending();
    this.pendingOps.push(op);
    this.kick();
  }

  private sealPending(): void {
    const p = this.pending;
    if (p.metrics.length + p.params.length + p.tags.length === 0) return;
    this.pending = { metrics: [], params: [], tags: [] };
    for (const b of splitBatches(p)) {
      this.pendingOps.push({ op: 'batch', key: this.runKey, metrics: b.metrics, params: b.params, tags: b.tags });
    }
  }

  private waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!cond()) return false;
        clearTimeout(t);
        resolve(true);
        return true;
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(cond());
      }, ms);
      const wake = () => {
        if (check()) this.waiters = this.waiters.filter((w) => w !== wake);
      };
      this.waiters.push(wake);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Starts a drain unless one is running; the chain keeps drains one at a time. */
  private kick(): void {
    if (this.draining || this.abandoned || this.isSettled) return;
    this.draining = true;
    this.chain = this.chain
      .then(() => this.drain())
      .catch((e: unknown) => this.reject([`internal: ${(e as Error).message}`]))
      .finally(() => {
        this.draining = false;
        this.checkSettled();
        this.wake();
      });
  }

  private async drain(): Promise<void> {
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (this.abandoned) return;
      this.sealPending();
      if (this.offline && !(await this.tryReconnect())) {
        this.spoolOps(this.pendingOps.splice(0));
        return;
      }
      if (this.abandoned) return;
      if (!this.opened) {
        const r = await this.open();
        if (this.abandoned) return;
        if (r === 'unreachable' || r === 'waiting') {
          this.goOffline(r === 'waiting' ? undefined : 'creating the run');
          continue;
        }
        if (r === 'failed') {
          this.dropAll();
          return;
        }
      }
      if (this.pendingOps.length === 0) {
        if (this.ended && this.twinCheck === 'due') await this.removeTwins();
        return;
      }
      const op = this.pendingOps.shift()!;
      this.inflight = op;
      this.inflightSpooled = false;
      const r = await this.sendWithRetry(op);
      const spooledMeanwhile = this.inflightSpooled;
      this.inflight = undefined;
      this.inflightSpooled = false;
      this.wake();
      if (this.abandoned) return;
      if (r === 'unreachable') {
        this.goOffline(`sending ${op.op}`);
        this.spoolOps(spooledMeanwhile ? this.pendingOps.splice(0) : [op, ...this.pendingOps.splice(0)]);
        return;
      }
    }
  }

  /** The run could not be created (refused, not unreachable): nothing of it can be logged. */
  private dropAll(): void {
    this.sealPending();
    const n = this.pendingOps.length;
    this.pendingOps = [];
    if (n) this.reject([`${n} operations of run ${JSON.stringify(this.o.header.name)} dropped: the run could not be created`]);
    this.opened = true; // nothing more to wait for
    this.id ??= this.runId;
  }

  private retrying = async <T>(fn: () => Promise<T>): Promise<T> => {
    const p = this.o.retry;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof MlflowApiError) || !e.retryable || attempt + 1 >= p.attempts) throw e;
        this.stats.retries++;
        await sleep(backoffMs(attempt, p));
      }
    }
  };

  private async parentRunId(): Promise<{ ok: boolean; id?: string }> {
    const h = this.o.header;
    if (!h.parentKey) return { ok: true, id: h.parentRunId };
    const id = await this.o.resolveParent?.();
    return { ok: id !== undefined, id };
  }

  /** Creates the run, or finds it again (resumed, or a create whose answer was lost). */
  private async open(): Promise<'ok' | 'failed' | 'unreachable' | 'waiting'> {
    if (this.o.ready && !this.o.ready()) return 'waiting';
    const h = this.o.header;
    try {
      const parent = await this.parentRunId();
      if (!parent.ok) return 'waiting';
      const experimentId = await this.o.experimentId();
      const mayExist = this.mayExist;
      this.mayExist = true;
      const { run, created } = await openRun(this.o.client, h, { experimentId, parentRunId: parent.id, mayExist, retrying: this.retrying });
      if (h.resumeRunId && !created) await this.retrying(() => this.o.client.updateRun({ runId: run.info.run_id, status: 'RUNNING' }));
      if (h.resumeRunId && created) this.o.logger.warn(`mlflow: resumeRunId ${h.resumeRunId}: no such run at ${this.o.client.trackingUri}; logging to a new run ${run.info.run_id}`);
      this.resolve(run.info.run_id, run.info.artifact_uri);
      return 'ok';
    } catch (e) {
      if (e instanceof MlflowApiError && e.retryable) {
        if (!h.resumeRunId) this.twinCheck = 'due';
        return 'unreachable';
      }
      this.openFailure = e instanceof MlflowApiError ? e.message : this.o.client.redact((e as Error).message);
      this.reject([`cannot create run ${JSON.stringify(h.name)}: ${this.openFailure}`]);
      return 'failed';
    }
  }

  private async removeTwins(): Promise<void> {
    try {
      const n = await deleteTwins(this.o.client, await this.o.experimentId(), this.runKey, this.id!, this.retrying);
      if (n) this.o.logger.info(`mlflow: deleted ${n} empty twin run(s) of ${this.id} (a create request that landed after its answer was lost)`);
      this.twinCheck = 'done';
    } catch (e) {
      if (isUnreachable(e)) this.goOffline('looking for twin runs');
      else this.twinCheck = 'done'; // refused: nothing more to do than what the server allows
    }
  }

  private resolve(runId: string, artifactUri: string | undefined): void {
    this.id = runId;
    this.artifactUri = artifactUri;
    this.o.header.runId = runId;
    this.opened = true;
    this.o.onOffline?.(false);
    this.wake();
  }

  private goOffline(while_: string | undefined): void {
    if (this.offline) return;
    this.offline = true;
    this.lastProbe = Date.now();
    if (while_) {
      this.o.logger.warn(`mlflow: server ${this.o.client.trackingUri} unreachable (while ${while_}); spooling to ${this.o.spoolDir} and replaying when it answers`);
      this.o.onOffline?.(true);
    }
    this.wake();
  }

  /** The caller cannot wait longer: put what memory holds on disk, in order, the op in flight first. */
  private spill(): void {
    if (this.abandoned || this.replaying) return;
    this.sealPending();
    const ops: Op[] = [];
    if (this.inflight && !this.inflightSpooled) {
      ops.push(this.inflight);
      this.inflightSpooled = true; // if it lands after all, the replayed copy holds the same items
    }
    ops.push(...this.pendingOps.splice(0));
    if (ops.length === 0 && this.opened) return;
    this.goOffline(`waiting over ${this.o.waitMs} ms for an answer`);
    this.spoolOps(ops);
    this.wake();
  }

  private newSegment(): void {
    liveSpools.delete(path.resolve(this.spoolFile));
    this.spool?.close();
    this.spool = undefined;
    this.spoolHasHeader = false;
    this.segment++;
  }

  private spoolOps(ops: Op[]): void {
    if (ops.length === 0 && this.spoolHasHeader) return;
    const records: JournalRecord[] = [];
    if (!this.spool) this.spool = new RecordFile(this.spoolFile);
    if (!this.spoolHasHeader) {
      records.push({ op: 'header', id: randomUUID(), version: 1, created: Date.now(), kind: 'spool', owner: spoolOwner() }, { ...this.o.header });
    }
    const kept: Op[] = [];
    try {
      for (const o of ops) {
        try {
          records.push(this.persistable(o));
          kept.push(o);
        } catch (e) {
          if (e instanceof RecordWriteError) throw e;
          this.reject([`${o.op}: ${(e as Error).message}`]);
        }
      }
      this.spool.append(...records);
      this.spoolHasHeader = true;
      liveSpools.add(path.resolve(this.spoolFile));
      this.stats.spooled += kept.length;
      this.toldSpoolError = false;
    } catch (e) {
      // Full disk (or the like): keep everything in memory, in order, and try again on the next tick.
      this.pendingOps.unshift(...ops);
      const err = e instanceof RecordWriteError ? e : new RecordWriteError(this.spoolFile, (e as Error).message);
      if (!this.toldSpoolError) {
        this.toldSpoolError = true;
        if (this.o.onSpoolError) this.o.onSpoolError(err, this);
        else this.o.logger.error(`mlflow: ${err.message}; ${this.inMemory} operations of run ${JSON.stringify(this.o.header.name)} are kept in memory until the disk has room or the server answers`);
      }
    }
  }

  /** Artifacts may be deleted by their owner before the server returns: keep a copy with the spool. */
  private persistable(op: Op): JournalRecord {
    if (op.op === 'batch') return { ...op, metrics: op.metrics.map(storePoint) };
    if (op.op !== 'artifact' || op.file.startsWith(this.scratch())) return op;
    const dir = path.join(this.scratch(), 'spooled', randomUUID());
    try {
      fs.mkdirSync(dir, { recursive: true });
      const copy = path.join(dir, path.basename(op.file));
      fs.copyFileSync(op.file, copy);
      return { ...op, file: copy };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new RecordWriteError(dir, code);
      throw e;
    }
  }

  private leftFiles(): string[] {
    try {
      const prefix = `${this.runKey}.${this.instance}-`;
      return fs
        .readdirSync(this.o.spoolDir)
        .filter((n) => n.startsWith(prefix) && n.endsWith(SPOOL_SUFFIX))
        .map((n) => path.join(this.o.spoolDir, n));
    } catch {
      return [];
    }
  }

  private async tryReconnect(force = false): Promise<boolean> {
    if (!force && Date.now() - this.lastProbe < this.o.probeIntervalMs) return false;
    this.lastProbe = Date.now();
    if (this.o.ready && !this.o.ready()) return false;
    if (!(await this.parentRunId()).ok) return false;
    if (!(await this.o.client.reachable())) return false;
    // Back: replay the spool in order before anything newer.
    const ok = await this.replaySpool();
    if (ok && !this.abandoned) {
      const wasOffline = this.offline;
      this.offline = false;
      if (wasOffline && this.stats.spooled > 0) this.o.logger.info(`mlflow: server ${this.o.client.trackingUri} answers; replayed the spool of run ${this.runId}`);
      this.o.onOffline?.(false);
    }
    return ok && !this.abandoned;
  }

  private async replaySpool(): Promise<boolean> {
    if (!this.spoolHasHeader) return true;
    const file = this.spoolFile;
    this.spool?.close();
    this.replaying = true;
    try {
      const r = await sync(file, { client: this.o.client, logger: this.o.logger, retry: this.o.retry, onApplied: () => this.replayProgress++ });
      if (this.abandoned) return false; // the file keeps everything for the next start
      this.stats.replayed += r.applied;
      this.stats.failed += r.failed;
      const id = r.runIds[this.runKey];
      // The replay's run is the one kept (it deletes twins): log there from now on.
      if (id && id !== this.id) {
        const run = await this.retrying(() => this.o.client.getRun(id));
        this.resolve(id, run.info.artifact_uri);
      }
    } catch (e) {
      if (isUnreachable(e) || (e instanceof MlflowApiError && e.retryable)) return false;
      this.o.logger.error(`mlflow: cannot replay ${file}: ${(e as Error).message}; left as ${file}.failed for sync-cli`);
      fs.renameSync(file, `${file}.failed`);
      this.newSegment();
      return true;
    } finally {
      this.replaying = false;
    }
    removeReplayedSpool(file, this.o.spoolDir);
    this.newSegment();
    return true;
  }

  private checkSettled(): void {
    if (this.isSettled || this.abandoned || !this.ended || this.offline || this.inMemory > 0 || this.spoolHasHeader || this.twinCheck === 'due') return;
    this.isSettled = true;
    this.stop();
    const s = this.stats;
    const line = `mlflow run ${this.runId} ended: ${s.sent} items sent, ${s.failed} failed, ${s.spooled} spooled, ${s.replayed} replayed after an outage`;
    if (s.failed > 0) this.o.logger.warn(line);
    else this.o.logger.info(line);
    this.o.onSettled?.(this);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.spool?.close();
    this.wake();
  }

  private async sendWithRetry(op: Op): Promise<SendResult> {
    const p = this.o.retry;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(op);
        this.stats.sent += this.size(op);
        return 'ok';
      } catch (e) {
        const err = e as Error;
        if (err instanceof MlflowApiError && err.retryable) {
          if (attempt + 1 >= p.attempts) {
            // Gone or overloaded: spool and wait. A plain 500 that outlives the retries is more likely
            // this request's own fault; spooling it would block every later replay behind it.
            if ([0, 429, 502, 503, 504].includes(err.status)) return 'unreachable';
            this.reject([`${op.op}: ${err.message} (after ${p.attempts} tries)`]);
            return 'failed';
          }
          this.stats.retries++;
          await sleep(backoffMs(attempt, p));
          continue;
        }
        if (op.op === 'batch' && this.size(op) > 1) return this.bisect(op);
        this.reject([`${op.op}: ${err.message}`]);
        return 'failed';
      }
    }
  }

  /** A batch refused as a whole: split it to keep the good items and count only the bad ones. */
  private async bisect(op: Extract<Op, { op: 'batch' }>): Promise<SendResult> {
    const items: Extract<Op, { op: 'batch' }>[] = [
      ...op.params.map((x) => ({ ...op, metrics: [], params: [x], tags: [] })),
      ...op.tags.map((x) => ({ ...op, metrics: [], params: [], tags: [x] })),
    ];
    const half = Math.ceil(op.metrics.length / 2);
    if (op.metrics.length > 0) items.push({ ...op, metrics: op.metrics.slice(0, half), params: [], tags: [] });
    if (op.metrics.length > 1) items.push({ ...op, metrics: op.metrics.slice(half), params: [], tags: [] });
    let worst: SendResult = 'ok';
    for (const it of items) {
      const r = await this.sendWithRetry(it);
      if (r === 'unreachable') return r;
      if (r === 'failed') worst = 'failed';
    }
    return worst;
  }

  private size(op: Op): number {
    return op.op === 'batch' ? op.metrics.length + op.params.length + op.tags.length : 1;
  }

  private async send(op: Op): Promise<void> {
    const c = this.o.client;
    const id = this.id!;
    switch (op.op) {
      case 'batch':
        return c.logBatch(id, { metrics: op.metrics, params: op.params, tags: op.tags });
      case 'inputs':
        return c.logInputs(id, op.datasets);
      case 'artifact':
        await c.uploadArtifact(this.artifactUri, op.file, op.artifactPath);
        return;
      case 'end':
        await c.updateRun({ runId: id, status: op.status, endTime: op.endTime });
        return;
    }
  }
}

export type { MetricPoint };
