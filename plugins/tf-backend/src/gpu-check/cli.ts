#!/usr/bin/env node
/**
 * `npx nx run tf-backend:gpu-check`: what a GPU user runs to see that the GPU backend works here.
 * Loads it, prints the device, compute capability, TensorFlow and CUDA versions, times 20 ResNet-50
 * training steps at batch 64 and one ICCL step, runs 5 ICCL steps on the compiled engine with XLA
 * against the eager engine on the device (COMPILED_VS_EAGER), checks the loss and gradients of a
 * step on fixed inputs against the CPU backend (GPU_VS_CPU tolerance), and ends with one line to
 * paste into an issue.
 * Each backend runs in its own worker process (the model code is in @iccl/iccl: --worker).
 * `--device cpu` runs the same pipeline on the CPU only (CPU against CPU), to check the check itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { compareSteps, GPU_VS_CPU, readStepValues } from './compare';
import { cudaDevicePresent, packageInstalled } from '../device';

/**
 * Compiled (XLA) against eager on one device after 5 steps, relative to each tensor's largest value:
 * XLA fuses and reorders float32 sums (measured 3e-7 on the CPU's XLA), a wrong graph is off at order 1.
 */
const COMPILED_VS_EAGER = 1e-4;

const REPO = path.resolve(__dirname, '../../../..');
const DEFAULT_WORKER = path.join(REPO, 'plugins/iccl/src/gpu-check/worker.ts');

const { values: o } = parseArgs({
  options: {
    device: { type: 'string', default: 'gpu' },
    worker: { type: 'string', default: DEFAULT_WORKER },
    steps: { type: 'string', default: '20' },
    batch: { type: 'string', default: '64' },
    model: { type: 'string', default: 'resnet50' },
    side: { type: 'string' },
    'compare-side': { type: 'string', default: '64' },
  },
});

const say = (m: string) => process.stdout.write(`${m}\n`);
function stop(line: string): never {
  say(`gpu-check: ${line}`);
  process.exit(1);
}

/** Runs one worker task on `device`; its JSON answer, or a stop with its last error line. */
function worker(args: string[], device: string, env: Record<string, string> = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', o.worker!, ...args, '--device', device], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2', ...env },
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    const last = (r.stderr || r.stdout || '').trim().split('\n').filter((l) => l.trim() && !/^\s+at /.test(l)).pop() ?? `exit ${r.status ?? r.signal}`;
    stop(`the ${device} worker (${args[0]}) failed: ${last}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

interface GpuFacts {
  name?: string;
  computeCapability?: string;
  memoryMiB?: string;
  driver?: string;
  cudaDriverApi?: string;
}

/** nvidia-smi's view of the first visible GPU (compute capability needs a driver from 2022 on). */
function gpuFacts(): GpuFacts {
  const smi = (args: string[]) => {
    try {
      return execFileSync('nvidia-smi', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 });
    } catch {
      return '';
    }
  };
  const first = (process.env.CUDA_VISIBLE_DEVICES ?? '').split(',')[0]?.trim();
  const sel = first && /^\d+$/.test(first) ? ['-i', first] : [];
  const [name, cc, mem, driver] = smi([...sel, '--query-gpu=name,compute_cap,memory.total,driver_version', '--format=csv,noheader,nounits']).split('\n')[0].split(',').map((s) => s.trim());
  const cuda = /CUDA Version:\s*([\d.]+)/.exec(smi([]))?.[1];
  const known = (s?: string) => (s && !/^\[.*\]$/.test(s) ? s : undefined);
  return { name: known(name), computeCapability: known(cc), memoryMiB: known(mem), driver: known(driver), cudaDriverApi: cuda };
}

interface StagedFacts {
  cudaRuntime?: string;
  cudnn?: string;
  /** e.g. "sm_60, sm_70, sm_80, sm_89, sm_90 and PTX compute_90" */
  architectures?: string;
  /** How this GPU runs them: native, ptx-jit or unsupported. */
  support?: string;
}

/** What setup --gpu staged next to the GPU addon: CUDA runtime and cuDNN versions, libtensorflow's GPU architectures. */
function stagedFacts(cc: string | undefined): StagedFacts {
  try {
    const libs = require('../../bin/gpu-libs.cjs') as typeof import('../../bin/gpu-libs.cjs');
    const deps = path.join(path.dirname(require.resolve('@tensorflow/tfjs-node-gpu/package.json')), 'deps');
    const out: StagedFacts = {};
    const nvidia = path.join(deps, 'nvidia');
    if (fs.existsSync(nvidia)) {
      const installed = libs.installedDistributions(path.dirname(fs.realpathSync(nvidia)));
      out.cudaRuntime = installed.get('nvidia-cuda-runtime-cu12');
      out.cudnn = installed.get('nvidia-cudnn-cu12');
    }
    const archs = libs.fatbinArchitectures(path.join(deps, 'lib/libtensorflow_cc.so.2'));
    out.architectures = libs.describeArchitectures(archs);
    if (cc) out.support = libs.gpuSupport(archs, cc);
    return out;
  } catch {
    return {}; // facts for the report, not a reason to stop: the backend itself is checked below
  }
}

function main(): void {
  const device = o.device!;
  if (device !== 'gpu' && device !== 'cpu') stop(`--device: got "${device}", expected gpu (the check) or cpu (the check's own pipeline, CPU against CPU)`);
  if (device === 'gpu') {
    if (!cudaDevicePresent()) stop('no CUDA device found (no /dev/nvidia0): this machine cannot run the GPU backend; nothing was checked');
    if (!packageInstalled('@tensorflow/tfjs-node-gpu')) stop('@tensorflow/tfjs-node-gpu is not installed: run `bash tools/setup.sh --gpu` first');
  }
  const facts: GpuFacts = device === 'gpu' ? gpuFacts() : {};
  const staged: StagedFacts = device === 'gpu' ? stagedFacts(facts.computeCapability) : {};
  const info = worker(['info'], device);
  if (info.device !== device) stop(`asked for ${device}, the backend runs on ${String(info.device)}`);
  say(`device:      ${device === 'gpu' ? `${facts.name ?? 'unknown GPU'}, ${facts.memoryMiB ?? '?'} MiB, compute capability ${facts.computeCapability ?? 'unknown'}` : 'cpu'}`);
  say(`TensorFlow:  ${String(info.tensorflowVersion)} (${String(info.package)}, tfjs ${String(info.tfjsVersion)})`);
  if (device === 'gpu') {
    say(`driver:      ${facts.driver ?? 'unknown'}, CUDA ${facts.cudaDriverApi ?? 'unknown'} (highest the driver supports)`);
    say(`staged:      CUDA runtime ${staged.cudaRuntime ?? 'unknown'}, cuDNN ${staged.cudnn ?? 'unknown'}; libtensorflow has GPU code for ${staged.architectures ?? 'unknown'} (this GPU: ${staged.support ?? 'unknown'})`);
  }

  const t = worker(['time', '--model', o.model!, '--batch', o.batch!, '--steps', o.steps!, ...(o.side ? ['--side', o.side] : [])], device);
  say(`speed:       ${o.model} batch ${String(t.batch)} at ${String(t.side)}px: ${Number(t.ceMsPerStep).toFixed(1)} ms/step (${Number(t.imagesPerS).toFixed(0)} images/s, ${String(t.steps)} steps); one ICCL step ${Number(t.icclStepMs).toFixed(1)} ms`);

  const g = worker(['engines', '--model', o.model!, '--side', o['compare-side']!], device, { NVIDIA_TF32_OVERRIDE: '0' });
  const compiledOk = g.fellBack === null && Number(g.lossDiff) <= COMPILED_VS_EAGER && Number(g.weightDiff) <= COMPILED_VS_EAGER;
  say(
    `compiled:    ${String(g.steps)} ICCL steps with XLA against eager (${o.model}, ${o['compare-side']}px, batch ${String(g.batch)}): loss differs by ${Number(g.lossDiff).toExponential(2)}, worst weight ${String(g.worstWeight)} by ${Number(g.weightDiff).toExponential(2)} ` +
      `(tolerance ${COMPILED_VS_EAGER}): ${compiledOk ? 'agree' : g.fellBack ? `fell back: ${String(g.fellBack)}` : 'disagree'}; ${Number(g.compiledMs).toFixed(1)} vs ${Number(g.eagerMs).toFixed(1)} ms/step`,
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-gpu-check-'));
  try {
    const cmp = ['--model', o.model!, '--side', o['compare-side']!];
    worker(['compare', path.join(dir, 'ref.json'), ...cmp], 'cpu');
    // TF32 would round matmul and conv inputs to 10 mantissa bits on Ampere and later: off for the comparison.
    worker(['compare', path.join(dir, 'got.json'), ...cmp], device, { NVIDIA_TF32_OVERRIDE: '0' });
    const c = compareSteps(readStepValues(path.join(dir, 'ref.json')), readStepValues(path.join(dir, 'got.json')), GPU_VS_CPU);
    for (const p of c.problems.slice(0, 10)) say(`  mismatch: ${p}`);
    say(
      `vs CPU:      ICCL step on fixed inputs (${o.model}, ${o['compare-side']}px): loss differs by ${c.lossDiff.toExponential(2)}, worst gradient ${c.worst?.name ?? '-'} by ${c.worst?.relDiff.toExponential(2) ?? '-'} of its norm ` +
        `(tolerance ${GPU_VS_CPU.gradRel} relative): ${c.ok ? 'agree' : `${c.problems.length} disagree`}`,
    );
    say('paste into an issue:');
    say(
      `gpu-check ${c.ok && compiledOk ? 'PASS' : 'FAIL'} | ${device === 'gpu' ? `${facts.name ?? '?'} cc ${facts.computeCapability ?? '?'} ${facts.memoryMiB ?? '?'}MiB driver ${facts.driver ?? '?'} CUDA ${facts.cudaDriverApi ?? '?'} cudart ${staged.cudaRuntime ?? '?'} cuDNN ${staged.cudnn ?? '?'} (${staged.support ?? '?'})` : 'cpu only'} | ` +
        `TF ${String(info.tensorflowVersion)} tfjs ${String(info.tfjsVersion)} | ${o.model} b${String(t.batch)} ${Number(t.ceMsPerStep).toFixed(1)} ms/step | ICCL step ${Number(t.icclStepMs).toFixed(1)} ms | ` +
        `XLA vs eager ${Number(g.weightDiff).toExponential(1)} (tol ${COMPILED_VS_EAGER}) | ` +
        `grad rel diff ${c.worst?.relDiff.toExponential(1) ?? '-'} (tol ${GPU_VS_CPU.gradRel}) | ${os.cpus().length} cores, node ${process.versions.node}`,
    );
    if (!c.ok || !compiledOk) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
