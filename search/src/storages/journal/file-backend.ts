import * as fs from 'node:fs';
import * as path from 'node:path';
import { JournalLock, type JournalFileLock, type LockKind } from './file-lock';
import type { JournalLog } from './operations';
import { parsePython, stringifyPython } from './python-json';

const NL = 0x0a;

/**
 * The journal file: reads complete lines from a byte offset, appends lines under the inter-process
 * lock. A last line without its newline is a write in progress or a crash's leftover: readers stop
 * before it, and the next writer (holding the lock, so no write is in progress) cuts it off before
 * appending, so the file stays a valid journal for Optuna too.
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
   * Complete lines from byte `offset` on: the parsed logs and the offset after the last complete
   * line. `firstLine` (1-based) is only used to name a corrupt line in errors.
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
          let parsed: unknown;
          try {
            parsed = parsePython(text);
          } catch (e) {
            throw new Error(`${this.file}:${line}: journal line is not valid JSON (${(e as Error).message}); the file is damaged in the middle`);
          }
          const log = parsed as JournalLog;
          if (typeof log !== 'object' || log === null || typeof log.op_code !== 'number') {
            throw new Error(`${this.file}:${line}: journal line has no numeric "op_code"`);
          }
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

  /** Appends logs; the caller holds the lock. Cuts a partial last line left by a crashed writer. */
  appendLocked(logs: JournalLog[]): void {
    const fd = fs.openSync(this.file, 'r+');
    try {
      const size = fs.fstatSync(fd).size;
      let at = size;
      if (size > 0) {
        const tail = Buffer.alloc(Math.min(size, 1 << 16));
        let pos = size;
        let cut = -1;
        // Find the last newline (scanning back in blocks); everything after it is a broken write.
        while (pos > 0) {
          const len = Math.min(tail.length, pos);
          fs.readSync(fd, tail, 0, len, pos - len);
          if (pos === size && tail[len - 1] === NL) break;
          const i = tail.lastIndexOf(NL, len - 1);
          if (i >= 0) {
            cut = pos - len + i + 1;
            break;
          }
          pos -= len;
          if (pos === 0) cut = 0;
        }
        if (cut >= 0 && cut < size) {
          process.stderr.write(`WARN: ${this.file}: dropping ${size - cut} bytes of an unfinished journal line (a writer crashed)\n`);
          fs.ftruncateSync(fd, cut);
          at = cut;
        }
      }
      const data = Buffer.from(logs.map((l) => stringifyPython(l)).join('\n') + '\n', 'utf8');
      let done = 0;
      while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, at + done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}
