import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findMlflowBinary, LocalMlflowServer } from '@iccl/mlflow';

declare global {
  var __e2eMlflow: LocalMlflowServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.ICCL_TEST_MLFLOW_URI) return;
  const bin = findMlflowBinary();
  if (!bin) throw new Error('e2e tests need the pinned mlflow (run `bash tools/setup.sh`) or ICCL_TEST_MLFLOW_URI pointing at a running server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-e2e-mlflow-'));
  globalThis.__e2eMlflow = await LocalMlflowServer.start({ dir, bin });
  process.env.ICCL_TEST_MLFLOW_URI = globalThis.__e2eMlflow.uri;
}
