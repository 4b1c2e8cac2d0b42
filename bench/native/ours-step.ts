// One side of bench/native/train-step.ts: our training step, in its own process (so that its peak
// RSS is its own).  node --import tsx ours-step.ts MODEL BATCH STEPS WARMUP [ce|iccl] [now|before|recompute|compiled|compiled-bf16]
//
// ce: forward, cross-entropy, backward, SGD (momentum 0.9, wd 2e-4) on B images.
// iccl: one ICCL stage-1 step (ICCL.md) on two batches of B: the class-agnostic batch and the
//   interpolated one through the network together (2B images), projection head, ICC loss,
//   interpolated cross-entropy, centroid EMA, exactly as the trainer runs it (stage1Step).
// before: the step as it was before issue 13's changes that can be switched back: tfjs's own tape
//   walk (tf.variableGrads) and composite gradients; oneDNN off is set by the caller (environment).
// compiled: the step as now, run as one libtensorflow graph per step (engine `compiled`, issue 23);
//   its first two steps (momentum buffers, then the traced and checked step) count as warm-up. For
//   iccl: the lambdas are drawn in JavaScript and fed to the graph each step, the centroid EMA runs
//   in JavaScript after it on the embeddings the graph returns (as the trainer runs it).
// compiled-bf16: the same with precision bf16 (convolutions and matrix products in bfloat16,
//   float32 weights, optimizer state, batch norm and loss).
// recompute: the step as now, with the network recomputing each residual stage in the backward pass
//   (plugin parameter `recompute`, gradient checkpointing): the memory of the same step with and without.
import { loadTf } from '@iccl/tf-backend';
import { CrossEntropyMethod } from '../../plugins/baselines/src/ce';
import { IcclMethod } from '../../plugins/iccl/src/method';
import {
  Rng,
  SgdMomentum,
  buildNetwork,
  commitUpdates,
  crossEntropy,
  setNativeGradients,
  stage1Step,
  trainingPass,
  type DeviceBatch,
  type Network,
  type Scalar,
  type Stage1Method,
  type Tensor1D,
  type Tensor4D,
} from '../../plugins/longtail/src';
import { CompiledStep } from '../../plugins/longtail/src/train/compiled/runner';

const [model = 'resnet32', batchS = '128', stepsS = '10', warmupS = '2', method = 'ce', mode = 'now'] = process.argv.slice(2);
const B = Number(batchS);
const tf = loadTf('cpu');
const rssAfterLoad = process.memoryUsage.rss();
if (mode === 'before') setNativeGradients(false);
const K = model === 'resnet32' ? 10 : 1000;
const side = model === 'resnet32' ? 32 : 224;
const compiledMode = mode === 'compiled' || mode === 'compiled-bf16';
if (!['now', 'before', 'recompute', 'compiled', 'compiled-bf16'].includes(mode)) throw new Error(`mode: got "${mode}", expected now, before, recompute, compiled or compiled-bf16`);
// Same networks as buildResNet32 / buildResNet50 (seed 0), with the recompute switch.
const net: Network = buildNetwork({ model: model === 'resnet32' ? 'resnet32' : 'resnet50', inputShape: [side, side, 3], numClasses: K, seed: 0, recompute: mode === 'recompute' });
const opt = new SgdMomentum(0.9, 2e-4);

function batch(seed: number): DeviceBatch {
  const labels = new Int32Array(B).map((_, i) => (i * 7 + seed) % K);
  return { x: tf.randomNormal([B, side, side, 3], 0, 1, 'float32', seed) as Tensor4D, y: tf.tensor1d(labels, 'int32') as Tensor1D, labels, n: B };
}

function beforeCeStep(a: DeviceBatch): void {
  const pass = trainingPass();
  const trained = net.store.list().filter((v) => v.role !== 'state');
  const out = tf.variableGrads(() => crossEntropy(net.logits(a.x, pass), a.y, K) as Scalar, trained.map((v) => v.variable));
  opt.apply(trained, out.grads, 0.1);
  commitUpdates(pass);
  out.value.dataSync();
  tf.dispose([out.value, ...Object.values(out.grads)]);
}

function makeStep(): () => void {
  const a = batch(1);
  if (method === 'ce' && mode === 'before') return () => beforeCeStep(a);
  if (mode === 'before') throw new Error('before: only the cross-entropy step');
  let m: Stage1Method;
  let b: DeviceBatch | null = null;
  if (method === 'ce') {
    m = new CrossEntropyMethod();
  } else if (method === 'iccl') {
    b = batch(2);
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
    m = iccl;
  } else {
    throw new Error(`method: got "${method}", expected ce or iccl`);
  }
  const vars = [...net.store.list(), ...(m.store?.list() ?? [])];
  const rng = new Rng(3);
  let s = 0;
  const precision = mode === 'compiled-bf16' ? 'bf16' : 'fp32';
  const compiled = compiledMode ? new CompiledStep({ precision, onFallback: (why) => { throw new Error(why); } }) : null;
  const run = compiled ? compiled.step.bind(compiled) : stage1Step;
  return () => {
    // after the traced step (s = 2 is the first run of the program): it runs what was asked
    if (compiled && s === 2 && compiled.precision !== precision) throw new Error(`compiled step runs ${compiled.precision}, not ${precision}`);
    const r = run(net, m, opt, vars, a, b, { epoch: 5, step: s++, rng }, 0.1);
    if (!r.finite) throw new Error('non-finite loss in the bench');
  };
}

const step = makeStep();
for (let i = 0; i < Number(warmupS) + (compiledMode ? 2 : 0); i++) step();
const t0 = process.hrtime.bigint();
for (let i = 0; i < Number(stepsS); i++) step();
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
const tfv = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding?.TF_Version ?? 'n/a';
process.stdout.write(
  JSON.stringify({
    model,
    batch: B,
    method,
    mode,
    images_per_s: (B * Number(stepsS)) / dt,
    ms_per_step: (dt * 1000) / Number(stepsS),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    rss_after_load_mb: rssAfterLoad / 2 ** 20,
    tf: tfv,
    onednn: process.env.TF_ENABLE_ONEDNN_OPTS,
  }) + '\n',
);
