import * as path from 'node:path';

/** How a user runs the replay tool: the package's bin once installed, the source file inside this repository. */
export function syncCommand(): string {
  return path.extname(__filename) === '.ts' ? 'npx tsx plugins/mlflow/src/sync-cli.ts' : 'npx iccl-mlflow-sync';
}
