import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import type { RetryPolicy } from './backoff';
import { MlflowApiError, isUnreachable } from './errors';
import { RecordFile, RecordWriteError, storePoint, type JournalRecord } from './records';
import type { RunRecord } from './run-open';
import type { Op } from './op-queue';
import { liveSpools, removeReplayedSpool, SPOOL_SUFFIX, spoolOwner } from './spool';
import { sync, type SyncResult } from './sync';

export interface ReplayOptions {
  client: MlflowClient;
  logger: Logger;
  retry: RetryPolicy;
  onApplied: () => void;
}

export type Replayed =
  | { outcome: 'replayed'; result: SyncResult }
  /** The server went away again: the file stays and is replayed from its cursor next time. */
  | { outcome: 'unreachable' }
  /** The file could not be replayed (not the server's fault): set aside as <file>.failed. */
  | { outcome: 'set-aside' }
  /** The process ends: the file stays for the next start. */
  | { outcome: 'released' };

/**
 * The outage spool of one live run: operations appended, in order, to a file that `sync` replays
 * once the server answers (each replay starts where the server's cursor says the last one ended).
 * One file per outage ("segment"): a replayed file is deleted, with the artifact copies it kept.
 */
export class RunSpool {
  private out: RecordFile | undefined;
  private written = false;
  private released = false;
  private readonly instance = randomUUID().slice(0, 8);
  private segment = 0;

  constructor(
    private readonly dir: string,
    /** The run record that opens each file (holds the server run id once known). */
    private readonly header: RunRecord,
    /** Folder of this run's own files (oversize values): those need no copy. */
    private readonly scratch: string,
  ) {}

  /** The current file (exists only after an outage). */
  get file(): string {
    return path.join(this.dir, `${this.header.key}.${this.instance}-${this.segment}${SPOOL_SUFFIX}`);
  }

  /** The current file holds operations not replayed yet. */
  get pending(): boolean {
    return this.written;
  }

  /**
   * Appends ops (all or none, on a full disk a RecordWriteError); an op that cannot be kept for
   * itself (its artifact vanished) is told to `refused` and left out. Returns how many were kept.
   */
  append(ops: Op[], refused: (message: string) => void): number {
    if (ops.length === 0 && this.written) return 0;
    const records: JournalRecord[] = [];
    if (!this.written) records.push({ op: 'header', id: randomUUID(), version: 1, created: Date.now(), kind: 'spool', owner: spoolOwner() }, { ...this.header });
    let kept = 0;
    for (const o of ops) {
      try {
        records.push(this.persistable(o));
        kept++;
      } catch (e) {
        if (e instanceof RecordWriteError) throw e;
        refused(`${o.op}: ${(e as Error).message}`);
      }
    }
    this.out ??= new RecordFile(this.file);
    this.out.append(...records);
    this.written = true;
    liveSpools.add(path.resolve(this.file));
    return kept;
  }

  /** Replays the current file; once it is all on the server, deletes it and starts a new one. */
  async replay(o: ReplayOptions): Promise<Replayed> {
    if (!this.written) return { outcome: 'replayed', result: { runsCreated: 0, runsFound: 0, applied: 0, skipped: 0, failed: 0, runIds: {} } };
    const file = this.file;
    this.out?.close();
    let result: SyncResult;
    try {
      result = await sync(file, o);
    } catch (e) {
      if (this.released) return { outcome: 'released' };
      if (isUnreachable(e) || (e instanceof MlflowApiError && e.retryable)) return { outcome: 'unreachable' };
      o.logger.error(`mlflow: cannot replay ${file}: ${(e as Error).message}; left as ${file}.failed for sync-cli`);
      fs.renameSync(file, `${file}.failed`);
      this.newSegment();
      return { outcome: 'set-aside' };
    }
    if (this.released) return { outcome: 'released' }; // the file keeps everything for the next start
    removeReplayedSpool(file, this.dir);
    this.newSegment();
    return { outcome: 'replayed', result };
  }

  /** Further appends go to a new file (the current one is being replayed, or was). */
  newSegment(): void {
    liveSpools.delete(path.resolve(this.file));
    this.out?.close();
    this.out = undefined;
    this.written = false;
    this.segment++;
  }

  /** The process ends: the files stay for the next start (they are orphans now). Returns them. */
  release(): string[] {
    this.released = true;
    this.out?.close();
    const left = this.files();
    for (const f of left) liveSpools.delete(path.resolve(f));
    return left;
  }

  close(): void {
    this.out?.close();
  }

  /** Artifacts may be deleted by their owner before the server returns: keep a copy with the spool. */
  private persistable(op: Op): JournalRecord {
    if (op.op === 'batch') return { ...op, metrics: op.metrics.map(storePoint) };
    if (op.op !== 'artifact' || op.file.startsWith(this.scratch)) return op;
    const dir = path.join(this.scratch, 'spooled', randomUUID());
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

  private files(): string[] {
    try {
      const prefix = `${this.header.key}.${this.instance}-`;
      return fs
        .readdirSync(this.dir)
        .filter((n) => n.startsWith(prefix) && n.endsWith(SPOOL_SUFFIX))
        .map((n) => path.join(this.dir, n));
    } catch {
      return [];
    }
  }
}
