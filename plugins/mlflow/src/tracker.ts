import * as fs from 'node:fs';
import type { DatasetInfo, RunStatus, Tracker } from '@iccl/trainer-api';
import { DEFAULT_RETRY } from './backoff';
import { checkKey, LIMITS, type MetricPoint } from './limits';
import { prepareValues, stringifyParam, toMlflowDataset, type Prepared } from './prepare';
import type { RecordWriteError } from './records';
import { normalizeArtifactPath } from './artifact-path';
import type { RunRecord } from './run-open';
import type { Op } from './op-queue';
import type { RunState } from './run-state';
import { RunFlusher } from './run-flusher';
import type { RunOptions, TrackerStats } from './run-options';

/** The 'run' record that opens a spool file, so a replay can find or create the run anywhere. */
export type RunHeader = RunRecord;

export interface MlflowTrackerOptions extends RunOptions {
  /** Told once a spool write fails (full disk): the error names the file. */
  onSpoolError?: (e: RecordWriteError, t: MlflowTracker) => void;
  /** Called once the run is settled: ended, and nothing of it left to send. */
  onSettled?: (t: MlflowTracker) => void;
}

export type { TrackerStats };

/**
 * An MLflow run behind a queue; tracking is never on the caller's critical path. Logging calls
 * validate, enqueue and return; a background flusher (run-flusher.ts) opens the run when the
 * server first answers (until then `runId` is a key reference, see run-open.ts), sends the queued
 * operations in order, and while the server is away (or slower than `waitMs` when the caller
 * waits) spools them and replays them once it answers again; `state` says which it is doing.
 * Nothing here throws because of the server: failures are warnings, counted in `stats` and in the
 * run's end tags.
 */
export class MlflowTracker implements Tracker {
  readonly runKey: string;
  /** Order of creation in this process (a resumed run waits for older trackers of the same run). */
  readonly seq: number;
  private static nextSeq = 0;
  readonly stats: TrackerStats;
  private readonly f: RunFlusher;
  private readonly waitMs: number;

  constructor(opts: MlflowTrackerOptions) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as MlflowTrackerOptions;
    const o = { flushIntervalMs: 1000, retry: DEFAULT_RETRY, probeIntervalMs: 2000, waitMs: 2000, ...given };
    this.runKey = opts.header.key;
    this.seq = MlflowTracker.nextSeq++;
    this.waitMs = o.waitMs;
    const { onSpoolError, onSettled } = opts;
    this.f = new RunFlusher(o, {
      onSpoolError: onSpoolError && ((e) => onSpoolError(e, this)),
      onSettled: () => onSettled?.(this),
    });
    this.stats = this.f.stats;
  }

  /** The MLflow run id once the run is on the server; before that the resumed id or a key reference. */
  get runId(): string {
    return this.f.runId;
  }

  /** True once `runId` is final: the run is on the server (or the server refused it). */
  get resolved(): boolean {
    return this.f.onServer || this.f.run.is('failed');
  }

  /** What the run is doing: see run-state.ts. */
  get state(): RunState {
    return this.f.run.state;
  }

  /** The current spool file of this run (exists only after an outage). */
  get spoolFile(): string {
    return this.f.spool.file;
  }

  /** True while the server is away and operations go to the spool (or are replayed from it). */
  get spooling(): boolean {
    return this.f.run.is('spooling', 'replaying');
  }

  /** Ended, and nothing of it left to send: all on the server (or refused by it). */
  get settled(): boolean {
    return this.f.run.is('settled');
  }

  /** Grows with every request that reached the server (sends and replayed records). */
  get progress(): number {
    return this.f.progress;
  }

  /** Operations held in memory (not yet sent nor spooled). */
  get inMemory(): number {
    return this.f.queue.inMemory;
  }

  /** Why the server refused to create the run (credentials, permissions...); undefined if it did not. */
  get openError(): string | undefined {
    return this.f.openError;
  }

  // ---- Tracker: logging calls never block and never throw --------------------------------------

  logParams(params: Record<string, string | number | boolean>): void {
    this.values('logParams', () => {
      const p = prepareValues('params', Object.entries(params).map(([k, v]) => [k, stringifyParam(v)]), this.f.scratch);
      this.f.queue.addParams(p.items);
      this.f.queue.addTags(p.notes);
      return p;
    });
  }

  logMetrics(metrics: Record<string, number>, step = 0, timestamp = Date.now()): void {
    // The hot path (every step of every trial): plain loop, no closures, checks only what can fail.
    const s = Math.trunc(step);
    const out: MetricPoint[] = this.f.queue.metrics;
    for (const key in metrics) {
      const value = metrics[key];
      if (typeof value !== 'number' || key.length === 0 || key.length > LIMITS.keyLength) {
        this.f.reject([checkKey('metric', key) ?? `metric ${key}: value ${JSON.stringify(value)} is not a number`]);
        continue;
      }
      out.push({ key, value, timestamp, step: s });
    }
    if (out.length >= 1000) this.f.kick();
  }

  setTags(tags: Record<string, string>): void {
    this.values('setTags', () => {
      const p = prepareValues('tags', Object.entries(tags).map(([k, v]) => [k, String(v)]), this.f.scratch);
      this.f.queue.addTags([...p.items, ...p.notes]);
      return p;
    });
  }

  logInput(dataset: DatasetInfo): void {
    try {
      this.enqueue({ op: 'inputs', key: this.runKey, datasets: [toMlflowDataset(dataset)] });
    } catch (e) {
      this.f.reject([`logInput: ${(e as Error).message}`]);
    }
  }

  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    let folder: string;
    try {
      folder = normalizeArtifactPath(artifactPath);
      const st = fs.statSync(localPath);
      if (!st.isFile()) throw new Error(`artifact ${localPath}: expected a regular file`);
    } catch (e) {
      this.f.reject([(e as Error).message]);
      return;
    }
    // Queued behind earlier operations so that an outage spools it in order like the rest.
    this.enqueue({ op: 'artifact', key: this.runKey, file: localPath, artifactPath: folder || undefined });
    await this.flush();
  }

  /** Waits until everything queued so far is sent or spooled; after `waitMs` it spools what is left. */
  async flush(waitMs = this.waitMs): Promise<void> {
    this.f.queue.seal();
    this.f.kick();
    if (!(await this.f.waiters.waitFor(() => this.inMemory === 0 || this.f.run.finished, waitMs))) this.f.spill();
  }

  async end(status: RunStatus, reason?: string): Promise<void> {
    if (this.f.queue.ended) return;
    if (reason) this.setTags({ 'iccl.end_reason': reason });
    // The summary goes last so it counts everything before it.
    const s = this.stats;
    this.f.queue.addTags([
      { key: 'iccl.tracking.failed', value: String(s.failed) },
      { key: 'iccl.tracking.spooled', value: String(s.spooled) },
    ]);
    this.enqueue({ op: 'end', key: this.runKey, status, endTime: Date.now() });
    await this.flush();
  }

  /** Resolves true once the run is settled, false after `ms`. */
  whenSettled(ms: number): Promise<boolean> {
    return this.f.waiters.waitFor(() => this.settled, ms);
  }

  /** Resolves once the run is past opening (on the server, found away, or refused), or after `ms`: true if it is on the server. */
  async whenOpened(ms: number): Promise<boolean> {
    await this.f.waiters.waitFor(() => !this.f.run.is('opening'), ms);
    return this.f.onServer && !this.f.run.is('failed');
  }

  /** Look for the server now (another run found it back, or older spools are replayed). */
  poke(): void {
    this.f.probeNow();
  }

  /**
   * The process is about to end while this run is not settled: write what memory holds to the
   * spool (for the next start to replay) and stop. Returns the spool files left, if any.
   */
  abandon(): string[] {
    return this.f.abandon();
  }

  /** Params and tags: validated (oversize values become artifacts) and queued; a bad one is counted. */
  private values(what: string, prepare: () => Prepared): void {
    try {
      const p = prepare();
      this.f.reject(p.rejected);
      for (const a of p.artifacts) this.enqueue({ op: 'artifact', key: this.runKey, file: a.file, artifactPath: a.artifactPath });
    } catch (e) {
      this.f.reject([`${what}: ${(e as Error).message}`]);
    }
  }

  private enqueue(op: Op): void {
    this.f.queue.push(op);
    this.f.kick();
  }
}

export type { MetricPoint };
