import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { silentLogger, type Logger } from '@iccl/trainer-api';
import { MlflowClient } from '../../src/client';

/** A URI globalSetup exported; its absence is a failure, never a skip. */
export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through plugins/mlflow/jest.config.js (its globalSetup starts MLflow)`);
  return v;
}

export function mainClient(): MlflowClient {
  return new MlflowClient({ trackingUri: requireEnv('ICCL_TEST_MLFLOW_URI'), credentials: {} });
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `iccl-mlflow-${prefix}-`));
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A logger that keeps what it was told, for asserting on warnings. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (lvl: string) => (m: string) => void lines.push(`${lvl}: ${m}`);
  return { ...silentLogger, lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

export const FAST_RETRY = { attempts: 3, baseMs: 50, maxMs: 200 };

/**
 * For tests that read the server right after end()/close(): wait for it as long as it takes (a
 * loaded machine answers slowly; the defaults of a few seconds are for searches, not assertions).
 */
export const PATIENT = { startWaitMs: 120_000, waitMs: 120_000, closeGraceMs: 120_000 };
