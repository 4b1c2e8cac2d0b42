import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');
export const PYTHON = path.join(REPO, '.venv/bin/python');
export const FIXTURES = path.join(__dirname, 'fixtures');

const made: string[] = [];
/** A fresh folder under the OS temp dir, removed after the test file (kept with ICCL_KEEP_TMP=1). */
export function tmpDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `iccl-${prefix}-`));
  made.push(d);
  return d;
}
afterAll(() => {
  if (process.env.ICCL_KEEP_TMP) return;
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Runs a fixture script with the workspace's Python (where the real optuna is installed). */
export function python(script: string, args: string[]): string {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the workspace .venv with optuna==5.0.0`);
  return execFileSync(PYTHON, [path.join(FIXTURES, script), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** The test server's URL; fails (never skips) when none could be started. */
export function pgUrl(): string {
  const url = process.env.ICCL_TEST_PG_URL;
  if (!url) throw new Error(process.env.ICCL_TEST_PG_ERROR ?? 'ICCL_TEST_PG_URL is not set and the jest globalSetup did not start PostgreSQL');
  return url;
}

/** A fresh database on the test server, so tests do not see each other's studies. */
export async function freshPgDatabase(name: string): Promise<string> {
  const { Client } = await import('pg');
  const base = pgUrl();
  const c = new Client({ connectionString: base });
  await c.connect();
  const db = `${name}_${process.pid}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await c.query(`CREATE DATABASE ${db}`);
  await c.end();
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}
