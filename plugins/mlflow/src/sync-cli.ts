#!/usr/bin/env node
/* Replays an offline journal or an outage spool into an MLflow server:
 *   npx tsx plugins/mlflow/src/sync-cli.ts <journal> [--tracking-uri URI] [--experiment NAME] */
import { Command } from 'commander';
import { consoleLogger } from '@iccl/trainer-api';
import { MlflowClient } from './client';
import { sync } from './sync';

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('iccl-mlflow-sync')
    .description('Replay an offline MLflow journal or outage spool into a tracking server (idempotent: replaying twice creates nothing twice).')
    .argument('<journal...>', 'journal or spool files (JSON lines)')
    .option('--tracking-uri <uri>', 'tracking server (default: $MLFLOW_TRACKING_URI)')
    .option('--experiment <name>', 'put all runs into this experiment')
    .exitOverride();
  try {
    program.parse(argv);
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<{ trackingUri?: string; experiment?: string }>();
  const uri = o.trackingUri ?? process.env.MLFLOW_TRACKING_URI;
  const log = consoleLogger('mlflow-sync');
  if (!uri) {
    log.error('--tracking-uri: missing; pass --tracking-uri http(s)://host:port or set MLFLOW_TRACKING_URI');
    return 2;
  }
  try {
    const client = new MlflowClient({ trackingUri: uri });
    for (const file of program.args) {
      const r = await sync(file, { client, experimentName: o.experiment, logger: log });
      process.stdout.write(`${file}: ${r.runsCreated} runs created, ${r.runsFound} already there, ${r.applied} records applied, ${r.skipped} skipped\n`);
    }
    return 0;
  } catch (e) {
    log.error((e as Error).message);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}
