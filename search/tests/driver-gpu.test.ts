import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JsonlTrackingBackend, readJsonl } from '@iccl/trainer-api';
import { cudaDevicePresent } from '@iccl/tf-backend';
import { planGpuSlots, type GpuPlan } from '../src/driver/gpu-slots';
import { GPU_ATTR } from '../src/driver/gpu-trials';
import { ATTR, openStudy, runStudy } from '../src/driver/run-study';
import { CompiledSpace, parseSearchSpace } from '../src/spaces';
import { RandomSampler } from '../src/samplers/random';
import { NopPruner } from '../src/pruners/nop';
import { JournalStorage } from '../src/storages/journal';
import { TrialState, type FrozenTrial } from '../src/study/trial-types';
import { FAKE_CUDA, FAKE_DRIVER, fakeNvidiaSmi, H100, pathWith } from './fake-nvidia-smi';
import type { GpuExecution } from './fixtures/gpu-plugin';
import { FIXTURES, REPO, tmpDir } from './helpers';

const CLI = path.join(REPO, 'search/src/driver/cli.ts');
const PLUGIN = path.join(FIXTURES, 'gpu-plugin.ts');

/** Trials sample x; their mode is 'ok' unless a test enqueues another (the only way to get one). */
function spaceDef(dir: string, fixed: Record<string, unknown> = {}, modes = ['ok']) {
  return {
    name: 'gpu-test',
    plugin: PLUGIN,
    fixed: { logDir: dir, sleepMs: 600, ...fixed },
    params: { x: { type: 'float', low: -2, high: 2 }, mode: { type: 'categorical', choices: modes } },
    objectives: [{ metric: 'loss', direction: 'minimize' }],
    sampler: { name: 'random', seed: 0 },
    pruner: { name: 'nop' },
  };
}

function executions(dir: string): GpuExecution[] {
  const f = path.join(dir, 'gpu.jsonl');
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as GpuExecution);
}

/** One interval per execution: from its start line to its end line (or to when it was lost). */
function intervals(dir: string): Required<GpuExecution>[] {
  const all = executions(dir);
  const starts = all.filter((e) => e.end === undefined);
  return starts.map((s) => ({ ...s, end: all.find((e) => e.pid === s.pid && e.end !== undefined)?.end ?? Number.POSITIVE_INFINITY }));
}

/** The most executions on one GPU at the same moment. */
function maxSharing(runs: Required<GpuExecution>[]): number {
  let most = 0;
  for (const r of runs) most = Math.max(most, runs.filter((o) => o.cuda === r.cuda && o.start <= r.start && r.start < o.end).length);
  return most;
}

async function runGpuStudy(dir: string, plan: GpuPlan, opts: { trials: number; fixed?: Record<string, unknown>; enqueue?: Record<string, number | string>[]; retries?: number; during?: () => Promise<void> }) {
  const storage = new JournalStorage(path.join(dir, 's.journal'));
  const modes = ['ok', ...new Set((opts.enqueue ?? []).map((p) => String(p.mode)).filter((m) => m !== 'ok'))];
  const space = new CompiledSpace(parseSearchSpace(spaceDef(dir, opts.fixed, modes), 'gpu-test'), 'gpu-test');
  const sampler = new RandomSampler(0);
  const study = await openStudy({ studyName: 'gpu', space, storage, sampler, pruner: new NopPruner() });
  for (const p of opts.enqueue ?? []) await study.enqueueTrial(p);
  const tracking = new JsonlTrackingBackend(path.join(dir, 'tracking'));
  const run = runStudy({
    studyName: 'gpu',
    space,
    storage,
    sampler,
    pruner: new NopPruner(),
    nTrials: opts.trials,
    workers: plan.workers,
    gpus: plan,
    retries: opts.retries ?? 1,
    abortGraceMs: 2000,
    runsDir: path.join(dir, 'runs'),
    tracking,
  });
  await opts.during?.();
  await run;
  const trials = await storage.getAllTrials(study.studyId);
  await storage.close();
  return { trials, tagsOf: (t: FrozenTrial) => trackedTags(dir, t) };
}

function trackedTags(dir: string, t: FrozenTrial): Record<string, string> {
  const recs = readJsonl(path.join(dir, 'tracking', `${t.systemAttrs[ATTR.trackingRunId] as string}.jsonl`));
  return Object.assign({}, ...recs.filter((r) => r.kind === 'tags').map((r) => (r as { tags: Record<string, string> }).tags)) as Record<string, string>;
}

/** The plan the CLI makes, from the stand-in nvidia-smi on PATH. */
function planFromFakeSmi(gpus: number, o: { trialsPerGpu?: number; cores?: number } = {}): GpuPlan {
  const old = process.env.PATH;
  process.env.PATH = pathWith(fakeNvidiaSmi(gpus));
  try {
    return planGpuSlots({ device: 'gpu', trialsPerGpu: o.trialsPerGpu, cores: o.cores ?? 32, env: {} })!;
  } finally {
    process.env.PATH = old;
  }
}

describe('trials on GPU slots (stand-in nvidia-smi, no GPU needed)', () => {
  it('four workers get four different GPUs; running trials never share one; each trial has its GPU in env, attributes and tags', async () => {
    const dir = tmpDir('gpu4');
    const plan = planFromFakeSmi(4, { cores: 32 });
    expect(plan.workers).toBe(4); // workers default to the slots
    const { trials, tagsOf } = await runGpuStudy(dir, plan, { trials: 8 });
    const runs = intervals(dir);
    expect(runs.length).toBe(8);
    expect(trials.map((t) => t.state)).toEqual(Array(8).fill(TrialState.COMPLETE));

    const firstFour = [...runs].sort((a, b) => a.start - b.start).slice(0, 4);
    expect(firstFour.map((r) => r.cuda).sort()).toEqual(['0', '1', '2', '3']);
    expect(maxSharing(runs)).toBe(1);
    for (const r of runs) expect({ order: r.order, growth: r.growth, decode: r.decode }).toEqual({ order: 'PCI_BUS_ID', growth: 'true', decode: '8' }); // 32 cores / 4 trials

    for (const t of trials) {
      const run = runs.find((r) => r.trial === t.number)!;
      const gpu = { index: Number(run.cuda), name: H100.name, memoryMiB: H100.memoryMiB, driverVersion: FAKE_DRIVER, cudaVersion: FAKE_CUDA };
      expect(t.systemAttrs[GPU_ATTR.gpu]).toEqual(gpu);
      expect(tagsOf(t)).toMatchObject({ 'gpu.index': run.cuda, 'gpu.name': H100.name, 'gpu.memory_mib': String(H100.memoryMiB), 'gpu.driver_version': FAKE_DRIVER, 'gpu.cuda_version': FAKE_CUDA });
    }
  }, 120_000);

  it('shares a GPU only as far as --trials-per-gpu allows', async () => {
    const dir = tmpDir('gpu-share');
    const plan = planFromFakeSmi(2, { trialsPerGpu: 2, cores: 8 });
    expect([plan.slots, plan.workers, plan.decodeWorkers]).toEqual([4, 4, 2]);
    await runGpuStudy(dir, plan, { trials: 4, fixed: { sleepMs: 1500 } });
    const runs = intervals(dir);
    expect(runs.length).toBe(4);
    expect(new Set(runs.map((r) => r.cuda))).toEqual(new Set(['0', '1']));
    expect(maxSharing(runs)).toBe(2);
  }, 120_000);

  it("gives a lost (killed) trial's GPU back to the pool: its retry and the next trial run on the only GPU", async () => {
    const dir = tmpDir('gpu-lost');
    const plan = planFromFakeSmi(1);
    const killFirst = async () => {
      const marker = path.join(dir, 'runs', 'trial-0', 'hung-once');
      for (let i = 0; i < 600 && !fs.existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
      if (!fs.existsSync(marker)) throw new Error('trial 0 never started hanging');
      process.kill(Number(fs.readFileSync(marker, 'utf8')), 'SIGKILL');
    };
    const enqueue = [
      { x: 0.5, mode: 'hang-once' },
      { x: 0.25, mode: 'ok' },
    ];
    const { trials } = await runGpuStudy(dir, plan, { trials: 2, enqueue, during: killFirst });
    const runs = intervals(dir);
    // Trial 0 lost; then trial 1 and trial 0's retry (trial 2), which could only start once the GPU was back.
    expect(runs.map((r) => r.trial).sort()).toEqual([0, 1, 2]);
    expect(runs.map((r) => r.cuda)).toEqual(['0', '0', '0']);
    expect(trials.map((t) => t.state)).toEqual([TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]);
    expect(trials[0].systemAttrs[ATTR.failReason]).toBe('trial process exited (signal SIGKILL) without a result');
    expect(trials[0].systemAttrs[GPU_ATTR.gpu]).toMatchObject({ index: 0 });
    expect(trials[2].systemAttrs[ATTR.retriedFrom]).toBe(0);
    expect(maxSharing(runs.filter((r) => r.end !== Number.POSITIVE_INFINITY))).toBe(1);
  }, 120_000);

  it('names the GPU in the fail reason of a trial that died of a CUDA error, thrown or aborted, and only then', async () => {
    const dir = tmpDir('gpu-cuda');
    const plan = planFromFakeSmi(2);
    const enqueue = [
      { x: 0, mode: 'cuda-throw' },
      { x: 0, mode: 'cuda-abort' },
      { x: 0, mode: 'warn-throw' },
    ];
    const { trials } = await runGpuStudy(dir, plan, { trials: 3, retries: 0, enqueue });
    const runs = intervals(dir);
    const gpuOf = (n: number) => runs.find((r) => r.trial === n)!.cuda;
    const [thrown, aborted, other] = trials;
    expect(thrown.state).toBe(TrialState.FAIL);
    expect(thrown.systemAttrs[ATTR.failReason]).toBe(
      `2 root error(s) found. (0) RESOURCE_EXHAUSTED: OOM when allocating tensor with shape[64,256,56,56] on /job:localhost/replica:0/task:0/device:GPU:0 [CUDA error on GPU ${gpuOf(0)} (${H100.name})]`,
    );
    expect(aborted.state).toBe(TrialState.FAIL);
    expect(aborted.systemAttrs[ATTR.failReason]).toBe(
      `trial process exited (signal SIGABRT) without a result [CUDA error on GPU ${gpuOf(1)} (${H100.name}): 2026-01-01 00:00:00.000000: F tensorflow/core/common_runtime/gpu/gpu_util.cc:123] GPU sync failed: CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered]`,
    );
    expect(aborted.systemAttrs[GPU_ATTR.gpu]).toMatchObject({ index: Number(gpuOf(1)), name: H100.name });
    expect(String(aborted.systemAttrs[GPU_ATTR.cudaError])).toContain('CUDA_ERROR_ILLEGAL_ADDRESS');
    // A thrown error is judged by its message, not by a CUDA warning printed before it.
    expect(other.systemAttrs[ATTR.failReason]).toBe('the loss is not finite at step 3');
    expect(other.systemAttrs[GPU_ATTR.cudaError]).toBeUndefined();
  }, 120_000);
});

describe('the search CLI on GPUs', () => {
  function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
    return spawnSync(process.execPath, ['--import', 'tsx', CLI, 'run', ...args], { cwd: REPO, encoding: 'utf8', env, timeout: 120_000 });
  }

  it('--gpus with a bad value is one clear error, before anything runs', () => {
    const dir = tmpDir('gpu-cli-bad');
    const file = path.join(dir, 'space.json');
    fs.writeFileSync(file, JSON.stringify(spaceDef(dir)));
    const r = cli(['--space', file, '--gpus', '0,x', '--tracking', 'none', '--storage', `journal:${path.join(dir, 's.journal')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['error: --gpus: got "0,x", expected GPU indices separated by commas, such as 0,1,3']);
    expect(fs.existsSync(path.join(dir, 's.journal'))).toBe(false);
  });

  it('search:inat18 --device gpu --gpus 0,1 says at once, in one line, that there is no CUDA device (before looking for data)', () => {
    const r = cli(['--space', 'inat18', '--device', 'gpu', '--gpus', '0,1']);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    if (!cudaDevicePresent()) expect(lines).toEqual(['error: device gpu: no CUDA device found (no /dev/nvidia0); use --device cpu or auto on this machine']);
    else expect(lines).toEqual([expect.not.stringContaining('no CUDA device')]); // with a GPU it goes on, to the next missing thing (package, data)
  });

  it('gives each of four workers its own GPU from --gpus, with the facts of the stand-in nvidia-smi', () => {
    const dir = tmpDir('gpu-cli');
    const file = path.join(dir, 'space.json');
    fs.writeFileSync(file, JSON.stringify(spaceDef(dir, { sleepMs: 1500 })));
    const env = { ...process.env, PATH: pathWith(fakeNvidiaSmi(4)) };
    const r = cli(['--space', file, '--gpus', '0,1,2,3', '--trials', '4', '--tracking', 'none', '--no-report', '--storage', `journal:${path.join(dir, 's.journal')}`, '--runs-dir', path.join(dir, 'runs')], env);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`4 GPU slot(s): GPU 0, 1, 2, 3 (${H100.name}), 1 trial(s) per GPU, 4 worker(s)`);
    const runs = intervals(dir);
    expect(runs.map((x) => x.cuda).sort()).toEqual(['0', '1', '2', '3']);
    expect(maxSharing(runs)).toBe(1);
  }, 120_000);
});
