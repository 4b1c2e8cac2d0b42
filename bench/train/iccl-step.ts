/**
 * One ICCL training step vs one cross-entropy step of the same network and batch size, on this CPU
 * (target: ICCL <= 2.2x). ICCL's step draws two batches of B (class-agnostic and class-aware) and
 * runs A and the interpolated batch through the network together (2B images), plus the projection
 * head, the ICC loss and the centroid EMA; the cross-entropy step runs B images.
 *
 *   npx tsx bench/train/iccl-step.ts [--model resnet32] [--batch 128] [--classes 100] [--steps 6]
 */
import { loadTf, backendTags } from '@iccl/tf-backend';
import { CrossEntropyMethod } from '../../plugins/baselines/src/ce';
import { IcclMethod } from '../../plugins/iccl/src/method';
import { Rng, SgdMomentum, buildNetwork, stage1Step, type DeviceBatch, type Network, type Stage1Method } from '../../plugins/longtail/src';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const tf = loadTf(arg('device', 'cpu'));
const model = arg('model', 'resnet32');
const B = Number(arg('batch', '128'));
const K = Number(arg('classes', '100'));
const steps = Number(arg('steps', '6'));
const side = model.startsWith('resnet') && model !== 'resnet50' ? 32 : model === 'small-cnn' ? 32 : 224;

function batch(seed: number): DeviceBatch {
  const labels = new Int32Array(B).map((_, i) => (i * 7 + seed) % K);
  return { x: tf.randomNormal([B, side, side, 3], 0, 1, 'float32', seed) as DeviceBatch['x'], y: tf.tensor1d(labels, 'int32') as DeviceBatch['y'], labels, n: B };
}

function time(net: Network, method: Stage1Method, two: boolean): number {
  const opt = new SgdMomentum(0.9, 2e-4);
  const vars = [...net.store.list(), ...(method.store?.list() ?? [])];
  const a = batch(1);
  const b = two ? batch(2) : null;
  const rng = new Rng(3);
  const run = (step: number) => stage1Step(net, method, opt, vars, a, b, { epoch: 5, step, rng }, 0.01);
  run(0);
  run(1);
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < steps; s++) {
    const r = run(2 + s);
    if (!r.finite) throw new Error('non-finite loss in the bench');
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / steps;
  tf.dispose([a.x, a.y, ...(b ? [b.x, b.y] : [])]);
  opt.clear();
  return ms;
}

const net = buildNetwork({ model, inputShape: [side, side, 3], numClasses: K, seed: 0 });
const ce = time(net, new CrossEntropyMethod(), false);
const iccl = new IcclMethod(net, null, {
  alpha: 1,
  tau: 0.1,
  centroidMomentum: 0.9,
  samplerRatio: 0.5,
  wIcc: 1,
  wCe: 1,
  wMix: 1,
  projDim: 128,
  iccWarmupEpochs: 1,
  centroidSource: 'agnostic',
  lambdaPerBatch: false,
  seed: 0,
  batchSize: B,
  workers: 0,
});
iccl.loadState({ ready: true }); // centroids as after warm-up: the ICC loss and the EMA run
const ic = time(net, iccl, true);
const tags = backendTags();
console.log(`backend ${tags['tf.backend']} (${tags['tf.device']}), TF ${tags['tf.tensorflow_version']}, model ${model}, batch ${B}, classes ${K}, ${steps} timed steps each`);
console.log(`| method | ms/step | images/s (batch A) | ratio to CE |`);
console.log(`|---|---|---|---|`);
console.log(`| cross-entropy | ${ce.toFixed(0)} | ${((B * 1000) / ce).toFixed(1)} | 1.00 |`);
console.log(`| ICCL (A + interpolated, head, ICC, EMA) | ${ic.toFixed(0)} | ${((B * 1000) / ic).toFixed(1)} | ${(ic / ce).toFixed(2)} |`);
console.log(`ratio ICCL/CE = ${(ic / ce).toFixed(2)} (target <= 2.2)`);
iccl.dispose();
net.dispose();
