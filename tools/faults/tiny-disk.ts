import { execFileSync } from 'node:child_process';

/**
 * A full disk made real: a tmpfs of `size` (e.g. "64k") mounted on `dir`. Needs root and mount, as CI
 * has; anywhere else it throws saying so, so that a test needing it fails rather than skips.
 */
export function mountTinyDisk(dir: string, size: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`mounting a tiny tmpfs to fill a disk needs root with mount (as in CI): ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Unmounts what mountTinyDisk mounted (lazily: a process may still hold a file there). */
export function unmountTinyDisk(dir: string): void {
  execFileSync('umount', ['-l', dir]);
}
