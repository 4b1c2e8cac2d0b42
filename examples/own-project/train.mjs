// The same as an ES module: named imports from the packages' ES-module entries.
import { fileURLToPath } from 'node:url';
import { plugin } from '@iccl/iccl';
import { consoleLogger, validateParams } from '@iccl/trainer-api';

class MemoryTracker {
  runId = 'esm';
  params = {};
  steps = [];
  status = null;
  logParams(p) { Object.assign(this.params, p); }
  logMetrics(m, step) { this.steps.push({ step, ...m }); }
  setTags() {}
  logInput() {}
  async logArtifact() {}
  async flush() {}
  async end(status) { this.status = status; }
}

const params = validateParams(plugin.params, {
  dataset: 'synthetic', model: 'small-cnn', width: 8, epochs: 2, iccWarmupEpochs: 1, crtEpochs: 1,
  warmupEpochs: 0, batchSize: 16, maxPerClass: 40, testPerClass: 10, maxStepsPerEpoch: 3, evalEvery: 1, device: 'cpu',
});
const tracker = new MemoryTracker();
tracker.logParams(params);
const result = await plugin.train(params, {
  trialId: 'esm', workDir: fileURLToPath(new URL('./work-esm', import.meta.url)), signal: new AbortController().signal,
  tracker, log: consoleLogger('esm'), report: async () => {},
});
await tracker.end('FINISHED');
console.log('RESULT ' + JSON.stringify({ status: tracker.status, steps: tracker.steps.length, top1: result.metrics.top1, few: result.metrics.few }));
