// Child process of compiled-xla.test.ts (XLA logs what it compiled only when TensorFlow starts with
// TF_CPP_MIN_LOG_LEVEL=0, so the check needs a process of its own): 8 cross-entropy steps of ResNet-8
// on the eager and on the compiled engine from the same weights and batches, the compiled one with
// XLA when argv[2] is "xla"; prints the largest loss and weight differences as JSON.
import { buildNetwork, SgdMomentum } from '../src/models';
import { CompiledStep } from '../src/train/compiled/runner';
import { batch, ce, K, relDiff, runBoth, snapshotOf, type Side } from './compiled-fixtures';

const side = (): Side => {
  const net = buildNetwork({ model: 'resnet8', inputShape: [16, 16, 3], numClasses: K, seed: 4 });
  return { net, method: ce, opt: new SgdMomentum(0.9, 5e-4), vars: net.store.list() };
};
const batches = [1, 2, 3].map((s) => batch(6, 16, s));
const [e, c] = [side(), side()];
const start = snapshotOf(e);
const traced: string[] = [];
const runner = new CompiledStep({ xla: process.argv[2] === 'xla', onTrace: (m) => traced.push(m) });
const r = runBoth(e, c, runner, 8, (s) => ({ a: batches[s % 3], b: null, epoch: 0, lr: 0.05 }));
const [we, wc] = [snapshotOf(e), snapshotOf(c)];
process.stdout.write(
  JSON.stringify({
    fellBack: runner.fellBack,
    traces: runner.traces,
    traced,
    loss: Math.max(...r.losses.map(([x, y]) => Math.abs(x - y) / Math.abs(x))),
    weights: Math.max(...[...we].map(([k, v]) => relDiff(wc.get(k)!, v))),
    moved: relDiff(we.get(e.vars[0].name)!, start.get(e.vars[0].name)!),
  }) + '\n',
);
