#!/usr/bin/env node
/* Replays an offline journal or an outage spool into an MLflow server:
 *   npx tsx plugins/mlflow/src/sync-cli.ts <journal | spool folder>... [--tracking-uri URI] [--experiment NAME] */
import './signal-guard'; // first: from here on SIGUSR1 never opens Node's inspector
import * as fs from 'node:fs';
import { Command } from 'commander';
import { consoleLogger } from '@iccl/trainer-api';
import { MlflowClient } from './client';
import { sync } from './sync';
import { orphanSpools, removeReplayedSpool } from './spool';

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('iccl-mlflow-sync')
    .description('Replay an offline MLflow journal or outage spool into a tracking server (idempotent: replaying twice creates nothing twice).')
    .argument('<journal...>', 'journal or spool files (JSON lines), or a spool folder (.mlflow-spool: its files that no running search writes, parents first)')
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
    for (const arg of program.args) {
      const folder = fs.statSync(arg, { throwIfNoEntry: false })?.isDirectory();
      const files = folder ? orphanSpools(arg).orphans.map((x) => x.file) : [arg];
      for (const file of files) {
        const r = await sync(file, { client, experimentName: o.experiment, logger: log });
        // A replayed spool file is done with (a journal is the user's and stays).
        if (folder) removeReplayedSpool(file, arg);
        process.stdout.write(`${file}: ${r.runsCreated} runs created, ${r.runsFound} already there, ${r.applied} records applied, ${r.skipped} skipped${r.failed ? `, ${r.failed} refused` : ''}\n`);
      }
      if (folder && files.length === 0) process.stdout.write(`${arg}: no spool files to replay\n`);
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
