import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');
export const PYTHON = path.join(REPO, '.venv/bin/python');
export const FIXTURES = path.join(__dirname, 'fixtures');

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `iccl-${prefix}-`));
}

/** Runs a fixture script with the workspace's Python (where the real optuna is installed). */
export function python(script: string, args: string[]): string {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the workspace .venv with optuna==5.0.0`);
  return execFileSync(PYTHON, [path.join(FIXTURES, script), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}
