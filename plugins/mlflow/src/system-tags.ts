import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

let gitCommit: string | null | undefined;

/** HEAD of the git checkout around `cwd`, or undefined outside one (looked up once). */
export function currentGitCommit(cwd = process.cwd()): string | undefined {
  if (gitCommit === undefined) {
    try {
      gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim() || null;
    } catch {
      gitCommit = null;
    }
  }
  return gitCommit ?? undefined;
}

/** The tags MLflow's own clients set on every run: what ran it, who, and from which commit. */
export function systemTags(): Record<string, string> {
  const tags: Record<string, string> = {
    'mlflow.source.type': 'LOCAL',
    'mlflow.source.name': process.argv[1] ? path.relative(process.cwd(), process.argv[1]) || process.argv[1] : 'node',
  };
  try {
    tags['mlflow.user'] = os.userInfo().username;
  } catch {
    /* no passwd entry (containers): leave it out */
  }
  const commit = currentGitCommit();
  if (commit) tags['mlflow.source.git.commit'] = commit;
  return tags;
}
