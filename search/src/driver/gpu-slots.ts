/**
 * GPU slots: which GPUs a study's trials run on, how many trials share one, and the lease that
 * gives each trial process its own card (CUDA_VISIBLE_DEVICES) until the process is gone.
 */
import * as os from 'node:os';
import { cudaDevicePresent } from '@iccl/tf-backend';
import { discoverGpus, GpuError, type GpuInfo } from './gpu-smi';

export { GpuError, type GpuInfo } from './gpu-smi';

/** `--gpus 0,1,3`: distinct non-negative indices, in the order given. */
export function parseGpuList(spec: string): number[] {
  const parts = spec.split(',').map((s) => s.trim());
  const bad = () => new GpuError(`--gpus: got "${spec}", expected GPU indices separated by commas, such as 0,1,3`);
  if (parts.some((p) => !/^\d+$/.test(p))) throw bad();
  const list = parts.map(Number);
  const dup = list.find((n, i) => list.indexOf(n) !== i);
  if (dup !== undefined) throw new GpuError(`--gpus: got "${spec}", GPU ${dup} is listed twice`);
  return list;
}

export interface GpuPlanOptions {
  device: string;
  /** `--gpus` as typed. */
  gpus?: string;
  trialsPerGpu?: number;
  workers?: number;
  /** `--decode-workers`: image decoding threads per trial, instead of cores / trials. */
  decodeWorkers?: number;
  /** Default: os.availableParallelism(). */
  cores?: number;
  /** The driver's own environment (CUDA_VISIBLE_DEVICES there narrows what nvidia-smi lists). */
  env?: NodeJS.ProcessEnv;
  discover?: () => GpuInfo[];
  /** Whether `--device auto` would run TensorFlow on a GPU here (package and device present). */
  autoWouldUseGpu?: () => boolean;
}

export interface GpuPlan {
  gpus: GpuInfo[];
  trialsPerGpu: number;
  /** gpus x trialsPerGpu: the most trials that run at once. */
  slots: number;
  workers: number;
  /** Decoding threads each trial is given. */
  decodeWorkers: number;
}

function gpuPackageInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node-gpu/package.json');
    return true;
  } catch {
    return false;
  }
}

/** CUDA_VISIBLE_DEVICES of the driver as a list of indices; null when unset. */
function visibleDevices(env: NodeJS.ProcessEnv): number[] | null {
  const v = env.CUDA_VISIBLE_DEVICES;
  if (v === undefined) return null;
  if (v.trim() === '') return [];
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) {
    throw new GpuError(`CUDA_VISIBLE_DEVICES="${v}" is not a list of GPU indices (UUIDs and MIG names are not mapped); pass --gpus with nvidia-smi's indices instead`);
  }
  return parts.map(Number);
}

/** The GPUs to use: --gpus (checked against what nvidia-smi lists, when it lists any), else all listed. */
function chooseGpus(o: GpuPlanOptions, listed: GpuInfo[]): GpuInfo[] {
  const byIndex = new Map(listed.map((g) => [g.index, g]));
  if (o.gpus !== undefined) {
    const want = parseGpuList(o.gpus);
    const missing = listed.length ? want.filter((i) => !byIndex.has(i)) : [];
    if (missing.length) {
      throw new GpuError(`--gpus: GPU ${missing.join(', ')} is not on this machine (nvidia-smi lists ${listed.map((g) => g.index).join(', ')})`);
    }
    return want.map((i) => byIndex.get(i) ?? { index: i });
  }
  const visible = visibleDevices(o.env ?? process.env);
  return visible === null ? listed : listed.filter((g) => visible.includes(g.index));
}

/** Decode threads per trial: the machine's cores shared by the trials that run at once. */
export function decodeWorkersPerTrial(cores: number, concurrentTrials: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, concurrentTrials)));
}

/**
 * The slots a study runs in, or null when trials run on the CPU (device cpu or js, or auto on a
 * machine where TensorFlow would not find a GPU). Every inconsistency is one GpuError line.
 */
export function planGpuSlots(o: GpuPlanOptions): GpuPlan | null {
  const tpg = o.trialsPerGpu ?? 1;
  if (!(Number.isInteger(tpg) && tpg >= 1)) throw new GpuError(`--trials-per-gpu: got ${tpg}, expected a positive integer`);
  if (o.device !== 'gpu' && o.device !== 'auto') {
    if (o.gpus !== undefined || o.trialsPerGpu !== undefined) throw new GpuError(`--gpus and --trials-per-gpu need --device gpu or auto (got --device ${o.device})`);
    return null;
  }
  if (o.device === 'auto' && o.gpus === undefined && !(o.autoWouldUseGpu ?? (() => gpuPackageInstalled() && cudaDevicePresent()))()) {
    if (o.trialsPerGpu !== undefined) throw new GpuError('--trials-per-gpu: TensorFlow would not use a GPU on this machine (device auto); pass --gpus or --device gpu');
    return null;
  }
  const listed = (o.discover ?? discoverGpus)();
  const gpus = chooseGpus(o, listed);
  if (gpus.length === 0) {
    if (o.device === 'auto' && o.trialsPerGpu === undefined) return null;
    throw new GpuError(`device ${o.device}: nvidia-smi lists no usable GPU${listed.length ? ` (CUDA_VISIBLE_DEVICES="${(o.env ?? process.env).CUDA_VISIBLE_DEVICES}")` : ''}; check the driver with nvidia-smi, or pass --gpus`);
  }
  const slots = gpus.length * tpg;
  const workers = o.workers ?? slots;
  if (workers > slots) {
    throw new GpuError(`--workers ${workers}: more than the ${slots} GPU slot(s) (${gpus.length} GPU(s) x ${tpg} trial(s) per GPU); lower --workers or raise --trials-per-gpu`);
  }
  const decodeWorkers = o.decodeWorkers ?? decodeWorkersPerTrial(o.cores ?? os.availableParallelism(), workers);
  return { gpus, trialsPerGpu: tpg, slots, workers, decodeWorkers };
}

/** A GPU held by one trial process; `release` is idempotent (exit and error may both call it). */
export interface GpuLease {
  gpu: GpuInfo;
  release(): void;
}

/**
 * Hands out GPUs to trial processes, at most `perGpu` at a time on each, the least busy first (so
 * with two trials per GPU and two GPUs, two running trials are on different cards).
 */
export class GpuPool {
  private readonly held: number[];
  private readonly waiting: Array<(l: GpuLease) => void> = [];

  constructor(
    readonly gpus: readonly GpuInfo[],
    readonly perGpu = 1,
  ) {
    if (gpus.length === 0) throw new GpuError('a GPU pool needs at least one GPU');
    this.held = gpus.map(() => 0);
  }

  /** Trials on each GPU now, in the pool's order. */
  get busy(): readonly number[] {
    return [...this.held];
  }

  get free(): number {
    return this.gpus.length * this.perGpu - this.held.reduce((a, b) => a + b, 0);
  }

  /** A lease now, or null when every slot is taken. */
  tryAcquire(): GpuLease | null {
    let best = -1;
    for (let i = 0; i < this.gpus.length; i++) if (this.held[i] < this.perGpu && (best < 0 || this.held[i] < this.held[best])) best = i;
    if (best < 0) return null;
    this.held[best] += 1;
    let done = false;
    return {
      gpu: this.gpus[best],
      release: () => {
        if (done) return;
        done = true;
        this.held[best] -= 1;
        this.waiting.shift()?.(this.tryAcquire()!);
      },
    };
  }

  /** A lease, waiting for a release when every slot is taken. */
  acquire(): Promise<GpuLease> {
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/**
 * The environment a trial process on `gpu` gets: only that card visible (numbered as nvidia-smi
 * does), and memory growth so TensorFlow takes what the trial uses, not the whole card.
 */
export function trialGpuEnv(gpu: GpuInfo): Record<string, string> {
  return { CUDA_VISIBLE_DEVICES: String(gpu.index), CUDA_DEVICE_ORDER: 'PCI_BUS_ID', TF_FORCE_GPU_ALLOW_GROWTH: 'true' };
}

/** Tracking tags with the facts of the GPU a trial ran on (those nvidia-smi reported). */
export function gpuTags(gpu: GpuInfo): Record<string, string> {
  const t: Record<string, string> = { 'gpu.index': String(gpu.index) };
  if (gpu.name) t['gpu.name'] = gpu.name;
  if (gpu.memoryMiB !== undefined) t['gpu.memory_mib'] = String(gpu.memoryMiB);
  if (gpu.driverVersion) t['gpu.driver_version'] = gpu.driverVersion;
  if (gpu.cudaVersion) t['gpu.cuda_version'] = gpu.cudaVersion;
  return t;
}

/** One line for the progress output: "4 GPU slot(s): GPU 0, 1, 2, 3 (NVIDIA H100), 1 trial per GPU, 8 decode workers per trial". */
export function describePlan(p: GpuPlan): string {
  const names = [...new Set(p.gpus.map((g) => g.name).filter(Boolean))];
  return (
    `${p.slots} GPU slot(s): GPU ${p.gpus.map((g) => g.index).join(', ')}${names.length ? ` (${names.join(', ')})` : ''}, ` +
    `${p.trialsPerGpu} trial(s) per GPU, ${p.workers} worker(s), ${p.decodeWorkers} decode worker(s) per trial`
  );
}
