import * as path from 'node:path';
import { retryingWith, type Retrying } from './backoff';
import type { RunOptions, Timing, TrackerStats } from './run-options';
import { RecordWriteError } from './records';
import { keyRef } from './run-open';
import { OpQueue, type Op } from './op-queue';
import { RunOpener } from './run-opener';
import { RunSpool } from './run-spool';
import { RunStateMachine } from './run-state';
import { apply } from './sender';
import { Waiters } from './waiters';

export interface FlusherHooks {
  /** A spool write failed (full disk); told once until a write succeeds again. */
  onSpoolError?: (e: RecordWriteError) => void;
  onSettled?: () => void;
}

/**
 * Moves one run's queue to the server in the background, one drain at a time: opens the run
 * (run-opener.ts), sends each op (sender.ts), and while the server is away appends to the spool
 * (run-spool.ts) and replays it once the server answers, before anything newer. Each step is a
 * transition of the run's state (run-state.ts).
 */
export class RunFlusher {
  readonly stats: TrackerStats = { sent: 0, failed: 0, spooled: 0, replayed: 0, retries: 0 };
  readonly run: RunStateMachine;
  readonly queue: OpQueue;
  readonly waiters = new Waiters();
  readonly spool: RunSpool;
  private readonly opener: RunOpener;
  private readonly retrying: Retrying;
  private id: string | undefined;
  private artifactUri: string | undefined;
  /** A run id a replay settled on whose details could not be fetched yet. */
  private adopt: string | undefined;
  private failure: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private lastProbe = 0;
  private toldSpoolError = false;
  private replayed = 0;

  constructor(
    private readonly o: RunOptions & Timing,
    private readonly hooks: FlusherHooks,
  ) {
    const h = o.header;
    this.run = new RunStateMachine(h.name);
    this.queue = new OpQueue(h.key);
    this.spool = new RunSpool(o.spoolDir, h, this.scratch);
    this.retrying = retryingWith(o.retry, () => this.stats.retries++);
    this.opener = new RunOpener({ ...o, mayExist: o.mayExist ?? false, retrying: this.retrying });
    this.timer = setInterval(() => this.kick(), o.flushIntervalMs);
    this.timer.unref();
    this.kick(); // open the run now
  }

  /** The folder of this run's own files: oversize values, artifact copies of the spool. */
  get scratch(): string {
    return path.join(this.o.spoolDir, `${this.o.header.key}.files`);
  }

  get runId(): string {
    const h = this.o.header;
    return this.id ?? h.resumeRunId ?? h.runId ?? keyRef(h.key);
  }

  /** The run is on the server. */
  get onServer(): boolean {
    return this.id !== undefined;
  }

  get openError(): string | undefined {
    return this.failure;
  }

  get progress(): number {
    return this.stats.sent + this.replayed;
  }

  reject(messages: string[]): void {
    for (const m of messages) {
      this.stats.failed++;
      this.o.logger.warn(`mlflow: not logged: ${this.o.client.redact(m)}`);
    }
  }

  /** Starts a drain unless one is running; the chain keeps drains one at a time. */
  kick(): void {
    if (this.draining || this.run.finished) return;
    this.draining = true;
    this.chain = this.chain
      .then(() => this.drain())
      .catch((e: unknown) => this.reject([`internal: ${(e as Error).message}`]))
      .finally(() => {
        this.draining = false;
        this.checkSettled();
        this.waiters.wake();
      });
  }

  /** Look for the server at the next drain rather than at the next probe. */
  probeNow(): void {
    this.lastProbe = 0;
    this.kick();
  }

  /** The caller cannot wait longer: put what memory holds on disk, in order, the op in flight first. */
  spill(): void {
    if (this.run.finished || this.run.is('replaying')) return;
    if (this.run.is('failed')) return this.dropQueued();
    const ops = this.queue.takeAll();
    if (ops.length === 0 && this.onServer) return;
    this.goOffline(`waiting over ${this.o.waitMs} ms for an answer`);
    this.spoolNow(ops);
    this.waiters.wake();
  }

  /** The process ends first: what memory holds goes to the spool; returns the spool files left. */
  abandon(): string[] {
    if (this.run.finished) return [];
    const ops = this.queue.takeAll();
    // A file being replayed may be deleted when its replay ends: write into a new one.
    if (this.run.is('replaying')) this.spool.newSegment();
    if (ops.length) this.spoolNow(ops);
    this.run.to('abandoned');
    this.stop();
    return this.spool.release();
  }

  private async drain(): Promise<void> {
    for (let guard = 0; guard < 1_000_000; guard++) {
      this.queue.seal();
      if (this.run.is('spooling') && !(await this.reconnect())) return this.spoolNow(this.queue.takeQueued());
      if (this.run.is('opening')) await this.openRun();
      if (this.run.finished) return;
      if (this.run.is('spooling')) continue;
      if (this.run.is('failed')) return this.dropQueued();
      const op = this.queue.next();
      if (!op) return this.queue.ended && this.opener.twinsDue ? this.removeTwins() : undefined;
      const r = await apply(this.o.client, { runId: this.id!, artifactUri: this.artifactUri }, op, { retry: this.o.retry, onRetry: () => this.stats.retries++ });
      const spooledMeanwhile = this.queue.done();
      this.stats.sent += r.sent;
      this.reject(r.refused);
      this.waiters.wake();
      if (this.run.finished) return;
      if (r.unreachable) {
        this.goOffline(`sending ${op.op}`);
        return this.spoolNow(spooledMeanwhile ? this.queue.takeQueued() : [op, ...this.queue.takeQueued()]);
      }
    }
  }

  private async openRun(): Promise<void> {
    const r = await this.opener.open();
    if (this.run.finished) return;
    if (r.kind === 'opened') {
      this.resolve(r.runId, r.artifactUri);
      if (this.run.is('opening')) this.run.to('open'); // else spill() found it slow meanwhile: spooling
    } else if (r.kind === 'waiting') this.goOffline(undefined);
    else if (r.kind === 'unreachable') this.goOffline('creating the run');
    else {
      this.failure = r.message;
      this.reject([`cannot create run ${JSON.stringify(this.o.header.name)}: ${r.message}`]);
      this.run.to('failed');
    }
  }

  /** While spooling: is the server back? Then replay the spool, before anything newer. */
  private async reconnect(): Promise<boolean> {
    if (Date.now() - this.lastProbe < this.o.probeIntervalMs) return false;
    this.lastProbe = Date.now();
    if (!(await this.opener.mayGo()) || !(await this.o.client.reachable()) || this.run.finished) return false;
    this.run.to('replaying');
    const r = await this.spool.replay({ client: this.o.client, logger: this.o.logger, retry: this.o.retry, onApplied: () => this.replayed++ });
    if (r.outcome === 'released' || this.run.finished) return false;
    if (r.outcome === 'replayed') {
      this.stats.replayed += r.result.applied;
      this.stats.failed += r.result.failed;
      this.adopt = r.result.runIds[this.o.header.key] ?? this.adopt;
    }
    if (r.outcome === 'unreachable' || !(await this.adoptReplayedRun())) {
      this.run.to('spooling');
      return false;
    }
    this.run.to(this.onServer ? 'open' : 'opening');
    if (this.stats.spooled > 0) this.o.logger.info(`mlflow: server ${this.o.client.trackingUri} answers; replayed the spool of run ${this.runId}`);
    this.o.onOffline?.(false);
    return true;
  }

  /** The replay's run is the one kept (it deletes twins): log there from now on. False if the server went away. */
  private async adoptReplayedRun(): Promise<boolean> {
    const id = this.adopt;
    if (!id || id === this.id) return true;
    try {
      const run = await this.retrying(() => this.o.client.getRun(id));
      this.resolve(id, run.info.artifact_uri);
      this.adopt = undefined;
      return true;
    } catch {
      return false;
    }
  }

  private resolve(runId: string, artifactUri: string | undefined): void {
    this.id = runId;
    this.artifactUri = artifactUri;
    this.o.header.runId = runId;
    this.o.onOffline?.(false);
    this.waiters.wake();
  }

  /** `while_` says what found the server away; undefined when the run waits for older operations. */
  private goOffline(while_: string | undefined): void {
    if (!this.run.is('opening', 'open')) return;
    this.run.to('spooling');
    this.lastProbe = Date.now();
    if (while_) {
      // A local server still starting was announced as such: it is on its way, not away.
      if (!this.o.serverStarting?.()) {
        this.o.logger.warn(`mlflow: server ${this.o.client.trackingUri} unreachable (while ${while_}); spooling to ${this.o.spoolDir} and replaying when it answers`);
      }
      this.o.onOffline?.(true);
    }
    this.waiters.wake();
  }

  private spoolNow(ops: Op[]): void {
    try {
      this.stats.spooled += this.spool.append(ops, (m) => this.reject([m]));
      this.toldSpoolError = false;
    } catch (e) {
      // Full disk (or the like): keep everything in memory, in order, and try again on the next tick.
      this.queue.putBack(ops);
      const err = e instanceof RecordWriteError ? e : new RecordWriteError(this.spool.file, (e as Error).message);
      if (this.toldSpoolError) return;
      this.toldSpoolError = true;
      if (this.hooks.onSpoolError) this.hooks.onSpoolError(err);
      else this.o.logger.error(`mlflow: ${err.message}; ${this.queue.inMemory} operations of run ${JSON.stringify(this.o.header.name)} are kept in memory until the disk has room or the server answers`);
    }
  }

  /** The run could not be created (refused, not unreachable): nothing of it can be logged. */
  private dropQueued(): void {
    const n = this.queue.takeAll().length;
    if (n) this.reject([`${n} operations of run ${JSON.stringify(this.o.header.name)} dropped: the run could not be created`]);
  }

  private async removeTwins(): Promise<void> {
    if ((await this.opener.removeTwins(this.id!)) === 'unreachable') this.goOffline('looking for twin runs');
  }

  private checkSettled(): void {
    if (!this.queue.ended || !this.run.is('open', 'failed') || this.queue.inMemory > 0 || this.spool.pending || this.opener.twinsDue) return;
    this.run.to('settled');
    this.stop();
    const s = this.stats;
    const line = `mlflow run ${this.runId} ended: ${s.sent} items sent, ${s.failed} failed, ${s.spooled} spooled, ${s.replayed} replayed after an outage`;
    if (s.failed > 0) this.o.logger.warn(line);
    else this.o.logger.info(line);
    this.hooks.onSettled?.();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.spool.close();
    this.waiters.wake();
  }
}
