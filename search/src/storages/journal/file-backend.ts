import * as fs from 'node:fs';
import * as path from 'node:path';
import { JournalLock, type JournalFileLock, type LockKind } from './file-lock';
import type { JournalLog } from './operations';
import { parsePython, stringifyPython } from './python-json';

const NL = 0x0a;

/**
 * The journal file: reads complete lines from a byte offset, appends lines under the inter-process
 * lock. The last line may be broken: without its newline it is a write in progress or a crash's
 * leftover; with it but not valid JSON, a torn write someone appended a newline to. Readers stop
 * before such a tail (as Optuna's reader skips a broken last line), and it is cut off under the
 * lock, so no write can be in progress, before anything is appended (or at load, when the lock is
 * free), so the file stays a valid journal for Optuna too. A broken line with lines after it is
 * damage in the middle: an error naming the file and line.
 */
export class JournalFileBackend {
  readonly lock: JournalFileLock;

  constructor(
    readonly file: string,
    options: { lock?: LockKind | JournalFileLock; graceSeconds?: number | null } = {},
  ) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.closeSync(fs.openSync(file, 'a'));
    const l = options.lock ?? 'symlink';
    this.lock = typeof l === 'string' ? new JournalLock(file, l, options.graceSeconds === undefined ? 30 : options.graceSeconds) : l;
  }

  /**
   * Complete, valid lines from byte `offset` on: the parsed logs and the offset after the last of
   * them (a broken tail is left after it). `firstLine` (1-based) is only used to name a line in errors.
   */
  readFrom(offset: number, firstLine = 1): { logs: JournalLog[]; offset: number } {
    const fd = fs.openSync(this.file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return { logs: [], offset };
      const buf = Buffer.allocUnsafe(size - offset);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      const end = buf.lastIndexOf(NL, got - 1);
      if (end < 0) return { logs: [], offset };
      const logs: JournalLog[] = [];
      let start = 0;
      let line = firstLine;
      while (start <= end) {
        const nl = buf.indexOf(NL, start);
        const text = buf.toString('utf8', start, nl).trim();
        if (text !== '') {
          const log = this.parseLine(text, line, nl === end);
          // A torn last line: stop before it; it is cut off when the lock is held.
          if (!log) return { logs, offset: offset + start };
          logs.push(log);
        }
        start = nl + 1;
        line++;
      }
      return { logs, offset: offset + end + 1 };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** One line's log; null for a broken last line; an error for a broken line in the middle. */
  private parseLine(text: string, line: number, last: boolean): JournalLog | null {
    let parsed: unknown;
    try {
      parsed = parsePython(text);
    } catch (e) {
      if (last) return null;
      throw new Error(`${this.file}:${line}: journal line is not valid JSON (${(e as Error).message}); the file is damaged in the middle`);
    }
    const log = parsed as JournalLog;
    if (typeof log !== 'object' || log === null || typeof log.op_code !== 'number') {
      if (last) return null;
      throw new Error(`${this.file}:${line}: journal line has no numeric "op_code"`);
    }
    return log;
  }

  /** Bytes after `validEnd` (the end of the last valid line): a broken tail when the lock is held. */
  tailBytes(validEnd: number): number {
    return Math.max(0, fs.statSync(this.file).size - validEnd);
  }

  /** Cuts a broken tail after `validEnd`, with one warning; the caller holds the lock. */
  cutTailLocked(validEnd: number): void {
    const bytes = this.tailBytes(validEnd);
    if (bytes === 0) return;
    process.stderr.write(`WARN: ${this.file}: dropping ${bytes} bytes of a broken last journal line (a writer was killed mid-write)\n`);
    fs.truncateSync(this.file, validEnd);
  }

  /**
   * Appends logs at `at` (the end of the last valid line, the broken tail cut first); the caller
   * holds the lock. A failed write (a full disk) is undone, so the file keeps only whole lines,
   * and reported in one line naming the file.
   */
  appendLocked(logs: JournalLog[], at: number): void {
    this.cutTailLocked(at);
    const fd = fs.openSync(this.file, 'r+');
    try {
      const data = Buffer.from(logs.map((l) => stringifyPython(l)).join('\n') + '\n', 'utf8');
      let done = 0;
      try {
        while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, at + done);
        fs.fsyncSync(fd);
      } catch (e) {
        try {
          fs.ftruncateSync(fd, at);
        } catch {
          // not a regular file (or truncating failed too): readers stop before a partial line anyway
        }
        const err = e as NodeJS.ErrnoException;
        const why = err.code === 'ENOSPC' ? 'the disk is full (ENOSPC)' : `${err.code ?? 'error'}: ${err.message}`;
        throw new Error(`cannot write to the journal ${this.file}: ${why}; the operation was not recorded (everything before it is kept)`);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}
