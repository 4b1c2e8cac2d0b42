/**
 * The ICCL plugin in someone else's setup: a plain script, no Nx, no search driver, no MLflow.
 * It validates parameters against the plugin's schema, builds the TrialContext by hand, trains on
 * the embedded synthetic long-tailed data set, and logs to a JSON-lines file.
 *
 *   npx tsx examples/plain-script.ts [OUT_DIR]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { consoleLogger, JsonlTracker, validateParams, type TrialContext } from '@iccl/trainer-api';
import { plugin } from '@iccl/iccl';

export async function main(outDir = 'runs/example-plain'): Promise<Record<string, number>> {
  const params = validateParams(plugin.params, {
    dataset: 'synthetic',
    model: 'small-cnn',
    epochs: 4,
    warmupEpochs: 0,
    lr: 0.05,
    iccWarmupEpochs: 1,
    crtEpochs: 1,
    batchSize: 32,
    maxPerClass: 120,
    testPerClass: 30,
    evalEvery: 1,
    device: 'cpu',
  });
  fs.mkdirSync(outDir, { recursive: true });
  const tracker = new JsonlTracker(path.join(outDir, 'run.jsonl'), 'example', { name: 'iccl-plain-script' });
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const ctx: TrialContext = {
    trialId: 'example',
    workDir: path.resolve(outDir, 'work'),
    signal: ac.signal,
    tracker,
    log: consoleLogger('example'),
    // Outside a search nothing prunes: just print the intermediate values.
    report: async (step, metrics) => {
      process.stdout.write(`epoch ${step}: ${Object.entries(metrics).map(([k, v]) => `${k}=${v.toFixed(3)}`).join(' ')}\n`);
    },
  };
  tracker.logParams(params);
  const result = await plugin.train(params, ctx);
  await tracker.end('FINISHED');
  process.stdout.write(`done: ${JSON.stringify(result.metrics)}\nlog: ${path.join(outDir, 'run.jsonl')}\n`);
  return result.metrics;
}

if (require.main === module) {
  main(process.argv[2]).catch((e: Error) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  });
}
