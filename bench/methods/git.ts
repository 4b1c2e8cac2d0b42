import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const LOCK = '/tmp/iccl-git.lock';

function git(repo: string, args: string[]): string {
  return execFileSync('flock', [LOCK, 'git', '-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The commit and dirtiness of the code the harness runs from (tracked files only). */
export function codeCommit(dir: string): { sha: string; dirty: boolean } {
  const sha = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
  return { sha, dirty };
}

/**
 * Commits one file in the repository that holds it, pathspec-limited (nobody else's staged changes go
 * in) and under the shared git lock; a file already committed as it is does nothing.
 */
export function commitFile(file: string, message: string): void {
  const repo = path.dirname(path.resolve(file));
  if (git(repo, ['status', '--porcelain', '--', file]).trim() === '') return;
  git(repo, ['add', '--', file]);
  git(repo, ['commit', '-q', '-m', message, '--', file]);
}
