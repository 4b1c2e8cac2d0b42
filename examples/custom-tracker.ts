/**
 * The ICCL plugin under the search driver with a tracker the user wrote: every trial's metrics go to
 * one CSV file (`trial,step,metric,value`) instead of MLflow. Anything implementing `TrackingBackend`
 * and `Tracker` from @iccl/trainer-api plugs in the same way.
 *
 *   npx tsx examples/custom-tracker.ts [OUT_DIR]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetInfo, RunStatus, StartRunOptions, Tracker, TrackingBackend } from '@iccl/trainer-api';
import { CompiledSpace, InMemoryStorage, makePruner, makeSampler, parseSearchSpace, runStudy } from '@iccl/search';

/** A user's tracker: appends metric rows to a CSV file; params and status to a small JSON per run. */
class CsvTracker implements Tracker {
  private readonly params: Record<string, string | number | boolean> = {};
  constructor(
    readonly runId: string,
    private readonly dir: string,
  ) {}
  logParams(p: Record<string, string | number | boolean>): void {
    Object.assign(this.params, p);
  }
  logMetrics(metrics: Record<string, number>, step?: number): void {
    const rows = Object.entries(metrics).map(([k, v]) => `${this.runId},${step ?? ''},${k},${v}\n`);
    fs.appendFileSync(path.join(this.dir, 'metrics.csv'), rows.join(''));
  }
  setTags(_tags: Record<string, string>): void {}
  logInput(_d: DatasetInfo): void {}
  async logArtifact(_local: string, _artifactPath?: string): Promise<void> {}
  async flush(): Promise<void> {}
  async end(status: RunStatus, reason?: string): Promise<void> {
    fs.writeFileSync(path.join(this.dir, `${this.runId}.json`), JSON.stringify({ status, reason, params: this.params }) + '\n');
  }
}

class CsvBackend implements TrackingBackend {
  readonly name = 'csv';
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }
  async startRun(o: StartRunOptions): Promise<Tracker> {
    return new CsvTracker(o.resumeRunId ?? o.name.replace(/[^\w.-]/g, '_'), this.dir);
  }
  async close(): Promise<void> {}
}

export async function main(outDir = 'runs/example-custom-tracker'): Promise<string> {
  const where = 'examples/custom-tracker.ts';
  const raw = {
      name: 'example-iccl',
      plugin: '@iccl/iccl',
      fixed: {
        dataset: 'synthetic',
        model: 'small-cnn',
        epochs: 2,
        iccWarmupEpochs: 1,
        crtEpochs: 1,
        batchSize: 32,
        maxPerClass: 80,
        testPerClass: 20,
        evalEvery: 1,
        device: 'cpu',
      },
      params: {
        tau: { type: 'float', low: 0.05, high: 0.5, log: true },
        alpha: { type: 'float', low: 0.2, high: 2 },
      },
      objectives: [{ metric: 'val/top1', direction: 'maximize' }],
      budget: { trials: 2, workers: 1 },
  };
  const space = new CompiledSpace(parseSearchSpace(raw, where), where);
  const { study } = await runStudy({
    studyName: 'example-iccl',
    space,
    storage: new InMemoryStorage(),
    sampler: makeSampler('random', 0, {}),
    pruner: makePruner('nop', {}),
    nTrials: 2,
    workers: 1,
    runsDir: path.join(outDir, 'work'),
    tracking: new CsvBackend(outDir),
  });
  const trials = await study.getTrials();
  process.stdout.write(`${trials.length} trials; metrics in ${path.join(outDir, 'metrics.csv')}\n`);
  return path.join(outDir, 'metrics.csv');
}

if (require.main === module) {
  main(process.argv[2]).catch((e: Error) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  });
}
