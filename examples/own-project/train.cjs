// A plain CommonJS project: train ICCL for a few steps on the built-in synthetic long-tailed set,
// with a tracker this script defines (it only has to implement the Tracker interface).
const { plugin } = require('@iccl/iccl');
const { consoleLogger, validateParams } = require('@iccl/trainer-api');

class MemoryTracker {
  constructor(runId) {
    this.runId = runId;
    this.params = {};
    this.steps = [];
    this.status = null;
  }
  logParams(p) { Object.assign(this.params, p); }
  logMetrics(m, step) { this.steps.push({ step, ...m }); }
  setTags() {}
  logInput() {}
  async logArtifact() {}
  async flush() {}
  async end(status) { this.status = status; }
}

async function main() {
  const params = validateParams(plugin.params, {
    dataset: 'synthetic', model: 'small-cnn', width: 8, epochs: 2, iccWarmupEpochs: 1, crtEpochs: 1,
    warmupEpochs: 0, batchSize: 16, maxPerClass: 40, testPerClass: 10, maxStepsPerEpoch: 3, evalEvery: 1, device: 'cpu',
  });
  const tracker = new MemoryTracker('cjs');
  tracker.logParams(params);
  const result = await plugin.train(params, {
    trialId: 'cjs', workDir: `${__dirname}/work-cjs`, signal: new AbortController().signal,
    tracker, log: consoleLogger('cjs'), report: async () => {},
  });
  await tracker.end('FINISHED');
  console.log('RESULT ' + JSON.stringify({ status: tracker.status, steps: tracker.steps.length, top1: result.metrics.top1, few: result.metrics.few }));
}

main().catch((e) => { console.error(`error: ${e.message}`); process.exit(1); });
