import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KeyValue, MetricPoint } from './limits';
import type { Dataset } from './schemas';
import type { RunStatus } from '@iccl/trainer-api';

/** A metric point as stored on disk: JSON has no NaN/Infinity, so those are strings. */
export interface StoredPoint {
  key: string;
  value: number | 'NaN' | 'Infinity' | '-Infinity';
  timestamp: number;
  step: number;
}

/**
 * One operation of the offline journal and of the outage spool (same format, so `sync` replays
 * both). Runs are named by a client-side key, recorded on the server as the tag `iccl.run_key`,
 * which is what makes a replay idempotent.
 */
export type JournalRecord =
  | {
      op: 'header';
      id: string;
      version: 1;
      created: number;
      kind: 'journal' | 'spool';
      /** The process that writes a spool: while it lives, no other process replays the file. */
      owner?: { pid: number; host: string };
    }
  | {
      op: 'run';
      key: string;
      experiment: string;
      name: string;
      parentKey?: string;
      parentRunId?: string;
      resumeRunId?: string;
      /** Server run id when the run already exists (spool of a live run). */
      runId?: string;
      tags: Record<string, string>;
      startTime: number;
    }
  | { op: 'batch'; key: string; metrics: StoredPoint[]; params: KeyValue[]; tags: KeyValue[] }
  | { op: 'inputs'; key: string; datasets: { dataset: Dataset; tags: KeyValue[] }[] }
  | { op: 'artifact'; key: string; file: string; artifactPath?: string }
  | { op: 'end'; key: string; status: RunStatus; endTime: number };

export const RUN_KEY_TAG = 'iccl.run_key';

export function storePoint(p: MetricPoint): StoredPoint {
  const v = p.value;
  const value = Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v;
  return { key: p.key, value, timestamp: p.timestamp, step: p.step };
}

export function loadPoint(p: StoredPoint): MetricPoint {
  return { key: p.key, value: Number(p.value), timestamp: p.timestamp, step: p.step };
}

const OPS = new Set(['header', 'run', 'batch', 'inputs', 'artifact', 'end']);

/**
 * Reads a journal or spool file. A truncated last line (crash mid-write) is ignored; any other bad
 * line is an error naming the file and line.
 */
export function readRecords(file: string): { line: number; record: JournalRecord }[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the journal (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split('\n');
  const out: { line: number; record: JournalRecord }[] = [];
  const last = lines.map((l) => l.trim() !== '').lastIndexOf(true);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let rec: unknown;
    try {
      rec = JSON.parse(lines[i]);
    } catch (e) {
      if (i === last) break;
      throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message}); expected one journal record per line`);
    }
    const op = (rec as { op?: unknown }).op;
    if (typeof op !== 'string' || !OPS.has(op)) {
      throw new Error(`${file}:${i + 1}: op ${JSON.stringify(op)} is not one of ${[...OPS].join(', ')}`);
    }
    out.push({ line: i + 1, record: rec as JournalRecord });
  }
  return out;
}

/** A write that failed (full disk, ...): the message names the file; the file is as it was before. */
export class RecordWriteError extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
  ) {
    super(`cannot write ${file}: ${code === 'ENOSPC' ? 'no space left on device (ENOSPC)' : code === 'EDQUOT' ? 'disk quota exceeded (EDQUOT)' : code}`);
    this.name = 'RecordWriteError';
  }
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** Appends records, one JSON line each, synchronously (nothing lost if the process dies next). */
export class RecordFile {
  private fd: number | undefined;
  constructor(readonly file: string) {}

  /**
   * Writes all the records or none: a write cut short (full disk) is truncated away again, so the
   * file never holds a torn line in its middle that would make every later line unreadable.
   */
  append(...records: JournalRecord[]): void {
    const buf = Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
    let start = -1; // size before this write; -1 until known (then nothing to undo)
    try {
      if (this.fd === undefined) {
        fs.mkdirSync(path.dirname(this.file), { recursive: true });
        this.fd = fs.openSync(this.file, 'a');
      }
      start = fs.fstatSync(this.fd).size;
      for (let off = 0; off < buf.length; ) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      if (this.fd !== undefined && start >= 0) {
        try {
          fs.ftruncateSync(this.fd, start);
        } catch {
          /* the original error is the one to report */
        }
      }
      throw new RecordWriteError(this.file, errCode(e));
    }
  }

  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
