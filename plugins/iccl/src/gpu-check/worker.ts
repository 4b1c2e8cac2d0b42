/**
 * The model half of `npx nx run tf-backend:gpu-check`, one backend per process (a process holds one):
 *   worker.ts info    --device gpu                       backend facts, as JSON on stdout
 *   worker.ts time    --device gpu [--steps 20] [--batch 64] [--model resnet50] [--side 224]
 *   worker.ts compare OUT --device cpu|gpu [--model resnet50] [--side 64] [--batch 4] [--classes 10]
 *   worker.ts engines --device cpu|gpu [--model resnet50] [--side 64] [--batch 4] [--steps 5]
 * `engines` runs the ICCL step eagerly and compiled with XLA from the same weights and batches and
 * prints their largest differences and their times. `compare` writes the ICCL stage-1 loss and
 * every gradient of one step on fixed inputs (no update), for @iccl/tf-backend's compareSteps. It lives here because it needs the network and the method.
 */
import { parseArgs } from 'node:util';
import { backendInfo, loadTf, writeStepValues, type StepValues } from '@iccl/tf-backend';
import { validateParams } from '@iccl/trainer-api';
import { CompiledStep, InitSeeds, worstDifference, Rng, SgdMomentum, buildNetwork, crossEntropyTrainStep, discardUpdates, stage1Step, trainingPass, type DeviceBatch, type Network } from '@iccl/longtail';
import { IcclMethod } from '../method';
import { ICCL_PARAMS, icclOnly } from '../params';

const { positionals, values: o } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'gpu' },
    model: { type: 'string', default: 'resnet50' },
    side: { type: 'string' },
    batch: { type: 'string' },
    classes: { type: 'string', default: '10' },
    steps: { type: 'string' },
  },
});
const [task, out] = positionals;
const tf = loadTf(o.device);

/** A batch from a fixed seed: the same numbers on every backend (drawn in JavaScript, not by TF). */
function fixedBatch(n: number, side: number, classes: number, seed: number): DeviceBatch {
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes);
  return { x: new InitSeeds(seed).normal([n, side, side, 3], 1) as DeviceBatch['x'], y: tf.tensor1d(labels, 'int32') as DeviceBatch['y'], labels, n };
}

function iccl(net: Network, batchSize: number): IcclMethod {
  const p = validateParams(ICCL_PARAMS, {});
  const m = new IcclMethod(net, null, { ...icclOnly(p), seed: 0, batchSize, workers: 0 });
  m.loadState({ ready: true }); // centroids as after warm-up, so the ICC loss and its gradient run
  return m;
}

function describe(): string {
  const i = backendInfo();
  return `${i.backend} (${i.device}), TF ${i.tensorflowVersion ?? 'none'}`;
}

function compare(file: string): void {
  const side = Number(o.side ?? 64);
  const n = Number(o.batch ?? 4);
  const classes = Number(o.classes);
  const net = buildNetwork({ model: o.model, inputShape: [side, side, 3], numClasses: classes, seed: 0 });
  const method = iccl(net, n);
  const vars = [...net.store.list(), ...(method.store?.list() ?? [])].filter((v) => v.role !== 'state');
  const a = fixedBatch(n, side, classes, 1);
  const b = fixedBatch(n, side, classes, 2);
  const pass = trainingPass();
  const { value, grads } = tf.variableGrads(() => method.loss(net, a, b, pass, { epoch: 5, step: 0, rng: new Rng(3) }).total, vars.map((v) => v.variable));
  discardUpdates(pass);
  const byVar = new Map(vars.map((v) => [v.variable.name, v.name]));
  const result: StepValues = {
    backend: describe(),
    loss: value.dataSync()[0],
    grads: Object.entries(grads).map(([id, g]) => ({ name: byVar.get(id) ?? id, shape: g.shape, values: g.dataSync() as Float32Array })),
  };
  writeStepValues(file, result);
  process.stdout.write(JSON.stringify({ backend: result.backend, loss: result.loss, tensors: result.grads.length }) + '\n');
}

function time(): void {
  const side = Number(o.side ?? (o.model === 'resnet50' ? 224 : 32));
  const n = Number(o.batch ?? 64);
  const classes = Number(o.classes === '10' && o.model === 'resnet50' ? 1000 : o.classes);
  const steps = Number(o.steps ?? 20);
  const net = buildNetwork({ model: o.model, inputShape: [side, side, 3], numClasses: classes, seed: 0 });
  const opt = new SgdMomentum(0.9, 1e-4);
  const a = fixedBatch(n, side, classes, 1);
  const b = fixedBatch(n, side, classes, 2);
  for (let i = 0; i < 2; i++) crossEntropyTrainStep(net, opt, a.x, a.y, 0.01); // cuDNN picks its algorithms here
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) crossEntropyTrainStep(net, opt, a.x, a.y, 0.01);
  const ceMs = Number(process.hrtime.bigint() - t0) / 1e6 / steps;
  const method = iccl(net, n);
  const vars = [...net.store.list(), ...(method.store?.list() ?? [])];
  const step = (s: number) => stage1Step(net, method, opt, vars, a, b, { epoch: 5, step: s, rng: new Rng(3) }, 0.01);
  step(0);
  const t1 = process.hrtime.bigint();
  const r = step(1);
  const icclMs = Number(process.hrtime.bigint() - t1) / 1e6;
  if (!r.finite) throw new Error('the ICCL step gave a non-finite loss');
  process.stdout.write(JSON.stringify({ backend: describe(), model: o.model, side, batch: n, steps, ceMsPerStep: ceMs, imagesPerS: (n * 1000) / ceMs, icclStepMs: icclMs }) + '\n');
}

function engines(): void {
  const side = Number(o.side ?? 64);
  const n = Number(o.batch ?? 4);
  const classes = Number(o.classes);
  const steps = Number(o.steps ?? 5);
  const make = () => {
    const net = buildNetwork({ model: o.model, inputShape: [side, side, 3], numClasses: classes, seed: 0 });
    const method = iccl(net, n);
    return { net, method, opt: new SgdMomentum(0.9, 1e-4), vars: [...net.store.list(), ...(method.store?.list() ?? [])] };
  };
  const [e, c] = [make(), make()];
  const a = fixedBatch(n, side, classes, 1);
  const b = fixedBatch(n, side, classes, 2);
  const traced: string[] = [];
  // XLA on both devices: the CPU run (--device cpu) checks the same pipeline the GPU runs
  const runner = new CompiledStep({ xla: true, onTrace: (m) => traced.push(m) });
  const rngs = [new Rng(3), new Rng(3)];
  let lossDiff = 0;
  const ms = { eager: 0, compiled: 0 };
  for (let s = 0; s < steps; s++) {
    const t0 = process.hrtime.bigint();
    const re = stage1Step(e.net, e.method, e.opt, e.vars, a, b, { epoch: 5, step: s, rng: rngs[0] }, 0.01);
    const t1 = process.hrtime.bigint();
    const rc = runner.step(c.net, c.method, c.opt, c.vars, a, b, { epoch: 5, step: s, rng: rngs[1] }, 0.01);
    const t2 = process.hrtime.bigint();
    if (!re.finite || !rc.finite) throw new Error(`step ${s}: a non-finite loss (eager ${re.loss}, compiled ${rc.loss})`);
    lossDiff = Math.max(lossDiff, Math.abs(re.loss - rc.loss) / Math.max(Math.abs(re.loss), 1e-30));
    // the first two compiled steps trace and build (momentum buffers, then the program): not timed
    if (s >= 2) {
      ms.eager += Number(t1 - t0) / 1e6 / (steps - 2);
      ms.compiled += Number(t2 - t1) / 1e6 / (steps - 2);
    }
  }
  const weights = (s: typeof e) => new Map(s.net.store.list().map((v) => [v.name, v.variable]));
  const w = worstDifference(weights(c), weights(e));
  runner.dispose();
  process.stdout.write(JSON.stringify({ backend: describe(), model: o.model, side, batch: n, steps, fellBack: runner.fellBack, traced, lossDiff, worstWeight: w.key, weightDiff: w.relative, eagerMs: ms.eager, compiledMs: ms.compiled }) + '\n');
}

if (task === 'info') process.stdout.write(JSON.stringify(backendInfo()) + '\n');
else if (task === 'time') time();
else if (task === 'compare' && out) compare(out);
else if (task === 'engines') engines();
else {
  process.stderr.write('usage: worker.ts info|time|engines|compare OUT [--device cpu|gpu] [--model M] [--side S] [--batch B] [--classes K] [--steps N]\n');
  process.exit(2);
}
