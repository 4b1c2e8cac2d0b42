import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DatasetInfo, Logger, RunStatus, Tracker } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import { MlflowApiError } from './errors';
import { backoffMs, DEFAULT_RETRY, sleep, type RetryPolicy } from './backoff';
import { checkKey, LIMITS, splitBatches, type Batch, type MetricPoint } from './limits';
import { prepareValues, stringifyParam, toMlflowDataset } from './prepare';
import { loadPoint, readRecords, RecordFile, storePoint, type JournalRecord } from './records';
import { normalizeArtifactPath } from './artifact-path';

/** The 'run' record that opens a spool file, so `sync` can recreate the run elsewhere. */
export type RunHeader = Extract<JournalRecord, { op: 'run' }>;

export interface MlflowTrackerOptions {
  client: MlflowClient;
  runId: string;
  artifactUri: string | undefined;
  header: RunHeader;
  /** Folder for the outage spool and oversize values of this run. */
  spoolDir: string;
  logger: Logger;
  flushIntervalMs?: number;
  retry?: RetryPolicy;
  /** How often to look for the server again while spooling. */
  probeIntervalMs?: number;
  /** How long end() waits for an unreachable server before leaving the spool for `sync`. */
  endGraceMs?: number;
  onEnd?: (t: MlflowTracker) => void;
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

/**
 * An MLflow run behind a queue. Logging calls validate, enqueue and return; a background flusher
 * sends log-batch requests within MLflow's limits, retries transient errors with backoff, and
 * while the server is unreachable appends operations to a spool file that it replays, in order,
 * once the server answers again. Nothing here throws because of the server: failures are
 * warnings, counted in `stats` and in the run's end tags.
 */
export class MlflowTracker implements Tracker {
  readonly runId: string;
  readonly runKey: string;
  readonly stats: TrackerStats = { sent: 0, failed: 0, spooled: 0, replayed: 0, retries: 0 };
  private pending: Batch = { metrics: [], params: [], tags: [] };
  private pendingOps: Op[] = [];
  private chain: Promise<void> = Promise.resolve();
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private offline = false;
  private lastProbe = 0;
  private spool: RecordFile | undefined;
  private spoolReplayedLines = 0;
  private ended = false;
  private readonly o: Required<Omit<MlflowTrackerOptions, 'onEnd' | 'artifactUri'>> & Pick<MlflowTrackerOptions, 'onEnd' | 'artifactUri'>;

  constructor(opts: MlflowTrackerOptions) {
    this.o = { flushIntervalMs: 1000, retry: DEFAULT_RETRY, probeIntervalMs: 2000, endGraceMs: 10_000, ...opts };
    this.runId = opts.runId;
    this.runKey = opts.header.key;
    this.timer = setInterval(() => this.kick(), this.o.flushIntervalMs);
    this.timer.unref();
  }

  /** The spool file of this run (exists only after an outage). */
  get spoolFile(): string {
    return path.join(this.o.spoolDir, `${this.runKey}.spool.jsonl`);
  }

  /** True while the server is unreachable and operations go to the spool. */
  get spooling(): boolean {
    return this.offline;
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

  async flush(): Promise<void> {
    // Loop: an item queued just as a drain was finishing would otherwise wait for the next tick.
    const left = () => this.pendingOps.length + this.pending.metrics.length + this.pending.params.length + this.pending.tags.length;
    for (let before = -1; left() > 0 || before === -1; ) {
      if (left() === before) break; // no progress (an internal error was already reported): do not spin
      before = left();
      this.kick();
      await this.chain;
    }
  }

  async end(status: RunStatus, reason?: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (reason) this.setTags({ 'iccl.end_reason': reason });
    await this.flush();
    if (this.offline) await this.waitForServer(this.o.endGraceMs);
    // The summary goes last so it counts everything before it.
    const s = this.stats;
    this.pending.tags.push(
      { key: 'iccl.tracking.failed', value: String(s.failed) },
      { key: 'iccl.tracking.spooled', value: String(s.spooled) },
    );
    this.enqueueOp({ op: 'end', key: this.runKey, status, endTime: Date.now() });
    await this.flush();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const line = `mlflow run ${this.runId} ${status}: ${s.sent} items sent, ${s.failed} failed, ${s.spooled} spooled, ${s.replayed} replayed after an outage`;
    if (s.failed > 0) this.o.logger.warn(line);
    else this.o.logger.info(line);
    if (this.offline) {
      this.o.logger.warn(
        `mlflow: server ${this.o.client.trackingUri} still unreachable; ${s.spooled - s.replayed} operations wait in ${this.spoolFile}. ` +
          `Replay them with: npx tsx plugins/mlflow/src/sync-cli.ts ${this.spoolFile} --tracking-uri <URI>`,
      );
    }
    this.spool?.close();
    this.o.onEnd?.(this);
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

  /** Starts a drain unless one is running; the chain lets flush() wait for it. */
  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    this.chain = this.chain
      .then(() => this.drain())
      .catch((e: unknown) => this.reject([`internal: ${(e as Error).message}`]))
      .finally(() => {
        this.draining = false;
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      this.sealPending();
      if (this.pendingOps.length === 0) return;
      if (this.offline && !(await this.tryReconnect())) {
        this.spoolOps(this.pendingOps.splice(0));
        return;
      }
      const op = this.pendingOps.shift()!;
      const r = await this.sendWithRetry(op);
      if (r === 'unreachable') {
        this.goOffline(op);
        this.spoolOps([op, ...this.pendingOps.splice(0)]);
        return;
      }
    }
  }

  private goOffline(op: Op): void {
    if (this.offline) return;
    this.offline = true;
    this.lastProbe = Date.now();
    this.o.logger.warn(`mlflow: server ${this.o.client.trackingUri} unreachable (while sending ${op.op}); spooling to ${this.spoolFile} and replaying when it answers`);
  }

  private spoolOps(ops: Op[]): void {
    if (ops.length === 0) return;
    try {
      if (!this.spool) {
        this.spool = new RecordFile(this.spoolFile);
        if (!fs.existsSync(this.spoolFile)) {
          this.spool.append({ op: 'header', id: randomUUID(), version: 1, created: Date.now(), kind: 'spool' }, this.o.header);
        }
      }
      for (const o of ops) {
        let rec: JournalRecord;
        try {
          rec = this.persistable(o);
        } catch (e) {
          this.reject([`${o.op}: ${(e as Error).message}`]);
          continue;
        }
        this.spool.append(rec);
        this.stats.spooled++;
      }
    } catch (e) {
      this.reject([`spool ${this.spoolFile}: ${(e as Error).message} (${ops.length} operations lost)`]);
    }
  }

  /** Artifacts may be deleted by their owner before the server returns: keep a copy with the spool. */
  private persistable(op: Op): JournalRecord {
    if (op.op === 'batch') return { ...op, metrics: op.metrics.map(storePoint) };
    if (op.op !== 'artifact' || op.file.startsWith(this.scratch())) return op;
    const dir = path.join(this.scratch(), 'spooled', randomUUID());
    fs.mkdirSync(dir, { recursive: true });
    const copy = path.join(dir, path.basename(op.file));
    fs.copyFileSync(op.file, copy);
    return { ...op, file: copy };
  }

  private async tryReconnect(force = false): Promise<boolean> {
    if (!force && Date.now() - this.lastProbe < this.o.probeIntervalMs) return false;
    this.lastProbe = Date.now();
    if (!(await this.o.client.reachable())) return false;
    // Back: replay the spool in order before anything newer.
    const ok = await this.replaySpool();
    if (ok) {
      this.offline = false;
      this.o.logger.info(`mlflow: server ${this.o.client.trackingUri} is back; replayed the spool`);
    }
    return ok;
  }

  private async replaySpool(): Promise<boolean> {
    if (!fs.existsSync(this.spoolFile)) return true;
    const recs = readRecords(this.spoolFile);
    for (const { line, record } of recs) {
      if (line <= this.spoolReplayedLines) continue;
      if (record.op === 'batch' || record.op === 'inputs' || record.op === 'artifact' || record.op === 'end') {
        const r = await this.sendWithRetry(record.op === 'batch' ? { ...record, metrics: record.metrics.map(loadPoint) } : record);
        if (r === 'unreachable') return false;
        this.stats.replayed++;
      }
      this.spoolReplayedLines = line;
    }
    // Everything is on the server: the spool is done with.
    this.spool?.close();
    this.spool = undefined;
    fs.rmSync(this.spoolFile, { force: true });
    this.spoolReplayedLines = 0;
    return true;
  }

  /** Waits (probing) until the server answers and the spool is replayed, or the time is up. */
  private async waitForServer(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.offline && Date.now() < until) {
      if (await this.tryReconnect(true)) return;
      await sleep(Math.min(this.o.probeIntervalMs, Math.max(0, until - Date.now())));
    }
  }

  private async sendWithRetry(op: Op): Promise<'ok' | 'failed' | 'unreachable'> {
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
  private async bisect(op: Extract<Op, { op: 'batch' }>): Promise<'ok' | 'failed' | 'unreachable'> {
    const items: Extract<Op, { op: 'batch' }>[] = [
      ...op.params.map((x) => ({ ...op, metrics: [], params: [x], tags: [] })),
      ...op.tags.map((x) => ({ ...op, metrics: [], params: [], tags: [x] })),
    ];
    const half = Math.ceil(op.metrics.length / 2);
    if (op.metrics.length > 0) items.push({ ...op, metrics: op.metrics.slice(0, half), params: [], tags: [] });
    if (op.metrics.length > 1) items.push({ ...op, metrics: op.metrics.slice(half), params: [], tags: [] });
    let worst: 'ok' | 'failed' | 'unreachable' = 'ok';
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
    switch (op.op) {
      case 'batch':
        return c.logBatch(this.runId, { metrics: op.metrics, params: op.params, tags: op.tags });
      case 'inputs':
        return c.logInputs(this.runId, op.datasets);
      case 'artifact':
        await c.uploadArtifact(this.o.artifactUri, op.file, op.artifactPath);
        return;
      case 'end':
        await c.updateRun({ runId: this.runId, status: op.status, endTime: op.endTime });
        return;
    }
  }
}

export type { MetricPoint };
