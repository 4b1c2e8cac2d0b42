import * as fs from 'node:fs';
import type { Logger } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import type { RetryPolicy } from './backoff';
import { MlflowApiError, isUnreachable } from './errors';
import { orphanSpools, removeReplayedSpool, type OrphanSpool } from './spool';
import { sync } from './sync';

/** A sleep that does not keep the process alive by itself. */
const nap = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export interface SpoolRecoveryOptions {
  client: MlflowClient;
  spoolDir: string;
  logger: Logger;
  retry?: RetryPolicy;
  probeIntervalMs: number;
  /** Told each time the server answered (a replay began). */
  onReached: () => void;
  /** Told once every orphan is replayed (or the recovery stopped). */
  onDone: () => void;
}

/**
 * Spool files that earlier processes left in the spool folder, replayed in the background, in
 * order (parents first), as soon as the server answers, before any run of this process logs.
 */
export class SpoolRecovery {
  private orphans: OrphanSpool[] = [];
  private done = true;
  private stopped = false;
  /** Records replayed so far (a caller waiting on a long replay sees it move). */
  progress = 0;

  constructor(private readonly o: SpoolRecoveryOptions) {
    const { orphans, unreadable } = orphanSpools(o.spoolDir);
    for (const u of unreadable) o.logger.error(`mlflow: cannot replay ${u.file}: ${u.error}`);
    if (orphans.length === 0) return;
    this.orphans = orphans;
    this.done = false;
    o.logger.info(`mlflow: ${orphans.length} spool file(s) of an earlier run in ${o.spoolDir}; replaying them when ${o.client.trackingUri} answers`);
    void this.recover().finally(() => {
      this.done = true;
      o.onDone();
    });
  }

  /** Every orphan is replayed (or there were none). */
  get recovered(): boolean {
    return this.done;
  }

  /** Spool files of earlier processes not replayed yet. */
  get pending(): readonly string[] {
    return this.orphans.map((x) => x.file);
  }

  /** The process ends: what is not replayed stays for the next start. */
  stop(): void {
    this.stopped = true;
  }

  private async recover(): Promise<void> {
    let records = 0;
    const total = this.orphans.length;
    for (let round = 0; this.orphans.length > 0 && !this.stopped && round < 10_000_000; round++) {
      if (!(await this.o.client.reachable())) {
        await nap(this.o.probeIntervalMs);
        continue;
      }
      try {
        while (this.orphans.length > 0 && !this.stopped) records += await this.replayFirst();
      } catch (e) {
        if (isUnreachable(e) || (e instanceof MlflowApiError && e.retryable)) await nap(this.o.probeIntervalMs);
        else this.setAside(e as Error);
      }
    }
    if (this.orphans.length === 0) this.o.logger.info(`mlflow: replayed ${total} spool file(s) of an earlier run (${records} records) into ${this.o.client.trackingUri}`);
  }

  private async replayFirst(): Promise<number> {
    const o = this.orphans[0];
    this.o.onReached();
    const r = await sync(o.file, { client: this.o.client, logger: this.o.logger, retry: this.o.retry, onApplied: () => this.progress++ });
    this.progress++;
    removeReplayedSpool(o.file, this.o.spoolDir);
    this.orphans.shift();
    return r.applied;
  }

  private setAside(e: Error): void {
    const o = this.orphans.shift()!;
    this.o.logger.error(`mlflow: cannot replay ${o.file}: ${e.message}; left as ${o.file}.failed for sync-cli`);
    fs.renameSync(o.file, `${o.file}.failed`);
  }
}
