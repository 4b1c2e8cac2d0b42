/**
 * Where one training step's time and bytes go: every native op the step runs (through the
 * binding's executeOp), timed and counted per phase (forward, backward, optimiser), the JavaScript
 * overhead between ops (step time minus native time), what the tape keeps alive after the forward
 * pass (saved tensors by kernel), and tensor bytes / RSS at each phase boundary and their peaks.
 *
 *   npx tsx bench/native/profile-step.ts resnet32 128 [--grads tfjs|lean] [--steps 3] [--json out.json]
 *
 * --grads tfjs is the path before issue 13: tf.variableGrads and tfjs's composite ReLU gradient
 * (set TF_ENABLE_ONEDNN_OPTS=0 as well for the whole "before"); lean is the current step.
 *
 * Eager TensorFlow on the CPU runs each op to completion inside executeOp, so its wall time is
 * the op's time. The first step is warm-up and not counted.
 */
import { loadTf } from '@iccl/tf-backend';
import * as fs from 'node:fs';
import { buildResNet32, buildResNet50, commitUpdates, crossEntropy, SgdMomentum, trainingPass } from '../../plugins/longtail/src/models';
import { leanVariableGrads } from '../../plugins/longtail/src/models/lean-grads';
import { setNativeGradients } from '../../plugins/longtail/src/models/native-grads';
import type { Scalar, Tensor, Tensor1D, Tensor4D, Variable } from '../../plugins/longtail/src/models';

const argv = process.argv.slice(2);
const opt = (name: string, d: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : d);
const [model = 'resnet32', batchS = '128'] = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
const gradsMode = opt('--grads', 'lean');
const steps = Number(opt('--steps', '3'));
const batch = Number(batchS);
const tf = loadTf('cpu');
setNativeGradients(gradsMode !== 'tfjs');

type Phase = 'forward' | 'backward' | 'optimizer' | 'other';
let phase: Phase = 'other';
const ops = new Map<string, { n: number; ms: number }>();
const phaseNative: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0, other: 0 };
const phaseOps: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0, other: 0 };
const phasePeakBytes: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0, other: 0 };
const phasePeakRss: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0, other: 0 };
let uploads = 0;
let counting = false;
const engine = tf.engine() as unknown as { state: { numBytes: number; activeTape: { kernelName: string; saved?: Tensor[] }[] | null } };

// The addon's exports are read-only: give the backend an object that inherits from them instead.
const backendObj = tf.backend() as unknown as { binding: Record<string, unknown> };
const binding = backendObj.binding;
const rawExec = (binding.executeOp as (...a: unknown[]) => unknown).bind(binding);
const rawCreate = (binding.createTensor as (...a: unknown[]) => unknown).bind(binding);
const timedExec = (name: unknown, ...rest: unknown[]) => {
  const t0 = performance.now();
  const r = rawExec(name, ...rest);
  const dt = performance.now() - t0;
  if (counting) {
    const key = `${phase}:${String(name)}`;
    const e = ops.get(key) ?? { n: 0, ms: 0 };
    e.n += 1;
    e.ms += dt;
    ops.set(key, e);
    phaseNative[phase] += dt;
    phaseOps[phase] += 1;
    phasePeakBytes[phase] = Math.max(phasePeakBytes[phase], engine.state.numBytes);
    phasePeakRss[phase] = Math.max(phasePeakRss[phase], process.memoryUsage.rss());
  }
  return r;
};
const countedCreate = (...a: unknown[]) => {
  if (counting) uploads += 1;
  return rawCreate(...a);
};
backendObj.binding = Object.create(binding, {
  executeOp: { value: timedExec },
  createTensor: { value: countedCreate },
}) as Record<string, unknown>;

const numClasses = model === 'resnet32' ? 10 : 1000;
const size = model === 'resnet32' ? 32 : 224;
const net = model === 'resnet32' ? buildResNet32(numClasses) : buildResNet50(numClasses);
const sgd = new SgdMomentum(0.9, 2e-4);
const x = tf.randomNormal([batch, size, size, 3]) as Tensor4D;
const y = tf.randomUniform([batch], 0, numClasses, 'int32') as Tensor1D;
const trained = net.store.list().filter((v) => v.role !== 'state');
const grads = gradsMode === 'lean' ? leanVariableGrads : (f: () => Scalar, v: Variable[]) => tf.variableGrads(f, v);

const phaseWall: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0, other: 0 };
let tapeSaved: { kernel: string; bytes: number }[] = [];
let afterForwardBytes = 0;
function step(record: boolean): void {
  counting = record;
  const pass = trainingPass();
  let tFwdEnd = 0;
  const t0 = performance.now();
  phase = 'forward';
  const out = grads(() => {
    const l = crossEntropy(net.logits(x, pass), y, net.numClasses);
    tFwdEnd = performance.now();
    phase = 'backward';
    return l;
  }, trained.map((v) => v.variable));
  // The forward tidy has closed by the time backward starts; what it left is the tape's saved tensors.
  const t1 = performance.now();
  phase = 'optimizer';
  sgd.apply(trained, out.grads, 0.1);
  commitUpdates(pass);
  out.value.dataSync();
  const t2 = performance.now();
  phase = 'other';
  tf.dispose([out.value, ...Object.values(out.grads)]);
  if (record) {
    phaseWall.forward += tFwdEnd - t0;
    phaseWall.backward += t1 - tFwdEnd;
    phaseWall.optimizer += t2 - t1;
  }
}

// The tape's saved tensors right after the forward pass: run one forward on the tape and look.
function inspectTape(): void {
  counting = false;
  const pass = trainingPass();
  const e = tf.engine() as unknown as { startTape(): void; endTape(): void; state: typeof engine.state & { gradientDepth: number } };
  e.startTape();
  const l = tf.tidy(() => crossEntropy(net.logits(x, pass), y, net.numClasses));
  e.endTape();
  afterForwardBytes = engine.state.numBytes;
  const byKernel = new Map<string, number>();
  const seen = new Set<unknown>();
  for (const node of e.state.activeTape ?? []) {
    for (const s of node.saved ?? []) {
      const id = (s as unknown as { dataId: unknown }).dataId;
      if (seen.has(id)) continue;
      seen.add(id);
      byKernel.set(node.kernelName, (byKernel.get(node.kernelName) ?? 0) + s.size * 4);
    }
  }
  tapeSaved = [...byKernel.entries()].map(([kernel, bytes]) => ({ kernel, bytes })).sort((a, b) => b.bytes - a.bytes);
  for (const node of e.state.activeTape ?? []) for (const s of node.saved ?? []) s.dispose();
  e.state.activeTape = null;
  l.dispose();
  for (const u of pass.updates) u.value.dispose();
}

const baseBytes = engine.state.numBytes;
step(false);
const rssAfterWarmup = process.memoryUsage.rss();
const tStart = performance.now();
for (let i = 0; i < steps; i++) step(true);
const wall = (performance.now() - tStart) / steps;
inspectTape();

const perStep = (v: number) => v / steps;
const MB = (b: number) => b / 2 ** 20;
const result = {
  model,
  batch,
  grads: gradsMode,
  tf: (binding as unknown as { TF_Version: string }).TF_Version,
  onednn: process.env.TF_ENABLE_ONEDNN_OPTS,
  step_ms: wall,
  images_per_s: (batch * 1000) / wall,
  phases: (['forward', 'backward', 'optimizer'] as Phase[]).map((p) => ({
    phase: p,
    wall_ms: perStep(phaseWall[p]),
    native_ms: perStep(phaseNative[p]),
    ops: perStep(phaseOps[p]),
    js_overhead_ms: perStep(phaseWall[p] - phaseNative[p]),
    peak_tensor_mb: MB(phasePeakBytes[p] - baseBytes),
    peak_rss_mb: MB(phasePeakRss[p]),
  })),
  host_uploads_per_step: perStep(uploads),
  params_mb: MB(baseBytes),
  tape_saved_mb_after_forward: MB(tapeSaved.reduce((a, b) => a + b.bytes, 0)),
  tensor_mb_after_forward: MB(afterForwardBytes - baseBytes),
  tape_saved_by_kernel: tapeSaved.slice(0, 8).map((t) => ({ kernel: t.kernel, mb: MB(t.bytes) })),
  top_ops: [...ops.entries()]
    .map(([k, v]) => ({ op: k, n: perStep(v.n), ms: perStep(v.ms) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 14),
  rss_after_warmup_mb: MB(rssAfterWarmup),
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
};
const json = opt('--json', '');
if (json) fs.writeFileSync(json, JSON.stringify(result, null, 1));
process.stdout.write(JSON.stringify(result) + '\n');
