import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** The pinned venv's python (Optuna, numpy, scipy): the independent reference for numeric tests. */
export const PYTHON = path.resolve(__dirname, '../../.venv/bin/python');

/** Runs `script` with `input` as JSON on stdin and parses its JSON stdout. Fails loudly if python is missing. */
export function runPython<T>(script: string, input: unknown): T {
  const out = execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out) as T;
}
