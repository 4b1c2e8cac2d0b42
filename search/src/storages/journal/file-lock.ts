import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

/**
 * Inter-process locks on `<journal>.lock`, the same two protocols as Optuna's journal file backend
 * so that Python Optuna processes and ours exclude each other on one file:
 * - "symlink": the lock is a symbolic link created with symlink(2) (atomic, works on old NFS);
 * - "open": the lock is a file created with O_CREAT|O_EXCL.
 * A lock whose modification time has not changed for `graceSeconds` is taken to belong to a dead
 * process and is broken. Release renames the lock to a unique name before unlinking it, so a
 * process never deletes a lock that another process has just taken over.
 */
export type LockKind = 'symlink' | 'open';

export interface JournalFileLock {
  acquire(): Promise<void>;
  release(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class JournalLock implements JournalFileLock {
  readonly lockPath: string;

  constructor(
    readonly targetPath: string,
    readonly kind: LockKind = 'symlink',
    readonly graceSeconds: number | null = 30,
  ) {
    this.lockPath = targetPath + '.lock';
  }

  /** One attempt; true when the lock is ours. */
  tryAcquire(): boolean {
    try {
      if (this.kind === 'symlink') fs.symlinkSync(this.targetPath, this.lockPath);
      else fs.closeSync(fs.openSync(this.lockPath, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }

  async acquire(): Promise<void> {
    let wait = 1;
    let seenMtime: number | null = null;
    let seenSince = Date.now();
    for (;;) {
      if (this.tryAcquire()) return;
      if (this.graceSeconds !== null) {
        let mtime: number | null = null;
        try {
          mtime = fs.lstatSync(this.lockPath).mtimeMs;
        } catch {
          continue; // released meanwhile: retry at once
        }
        if (mtime !== seenMtime) {
          seenMtime = mtime;
          seenSince = Date.now();
        } else if (Date.now() - seenSince > this.graceSeconds * 1000) {
          process.stderr.write(`WARN: journal lock ${this.lockPath} held for over ${this.graceSeconds}s; breaking it\n`);
          this.release(true);
          wait = 1;
          continue;
        }
      }
      // Short backoff cap: journal writes are tiny, and long sleeps would starve throughput.
      await sleep(wait + Math.random() * wait);
      wait = Math.min(wait * 2, 32);
    }
  }

  release(quiet = false): void {
    const tmp = `${this.lockPath}${crypto.randomUUID()}.rename`;
    try {
      fs.renameSync(this.lockPath, tmp);
    } catch (e) {
      if (quiet) return;
      throw new Error(`journal lock ${this.lockPath} was not held at release (${(e as Error).message})`);
    }
    fs.unlinkSync(tmp);
  }
}
