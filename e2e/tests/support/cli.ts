import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'search/src/driver/cli.ts');

/** Runs the search CLI as a user would (a separate Node process), from the repository root. */
export function searchCli(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 840_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
