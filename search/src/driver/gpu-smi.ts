/**
 * What `nvidia-smi` says about this machine's GPUs. The driver only reads facts here (it never
 * loads CUDA itself): the trial processes load TensorFlow, each on the GPU it was given.
 */
import { execFileSync } from 'node:child_process';

export interface GpuInfo {
  /** nvidia-smi's index (PCI bus order; trials get CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA agrees). */
  index: number;
  name?: string;
  memoryMiB?: number;
  driverVersion?: string;
  /** Highest CUDA version the driver supports (nvidia-smi's header), not the toolkit's. */
  cudaVersion?: string;
}

/** A GPU set-up problem stated in one line. */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuError';
  }
}

export const QUERY_FIELDS = 'index,name,memory.total,driver_version';

/** Runs nvidia-smi with `args`; null when it is not installed (no NVIDIA driver here). */
export type SmiRunner = (args: string[]) => string | null;

export const runNvidiaSmi: SmiRunner = (args) => {
  try {
    return execFileSync('nvidia-smi', args, { encoding: 'utf8', env: process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (err.code === 'ENOENT') return null;
    const said = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n')[0] || err.message.split('\n')[0];
    throw new GpuError(`nvidia-smi ${args.join(' ')} failed: ${said}`);
  }
};

/** Lines of `--query-gpu=index,name,memory.total,driver_version --format=csv,noheader,nounits`. */
export function parseQueryCsv(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const cells = line.split(',').map((c) => c.trim());
    const index = Number(cells[0]);
    if (cells.length < 4 || !Number.isInteger(index) || index < 0) throw new GpuError(`nvidia-smi --query-gpu: cannot read the line "${line}"`);
    const mem = Number.parseFloat(cells[2]);
    out.push({
      index,
      name: known(cells.slice(1, cells.length - 2).join(',')),
      memoryMiB: Number.isFinite(mem) ? mem : undefined,
      driverVersion: known(cells[cells.length - 1]),
    });
  }
  return out;
}

/** Lines of `nvidia-smi -L`: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)" (MIG lines are skipped). */
export function parseListOutput(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const line of text.split('\n')) {
    const m = /^GPU (\d+): (.*?)(?: \(UUID: [^)]*\))?\s*$/.exec(line.trim());
    if (m) out.push({ index: Number(m[1]), name: known(m[2]) });
  }
  return out;
}

/** "CUDA Version: 12.4" from nvidia-smi's table header, when the driver prints it. */
export function parseCudaVersion(text: string): string | undefined {
  return /CUDA Version:\s*([\d.]+)/.exec(text)?.[1];
}

/** "[N/A]", "[Not Supported]" and empty cells are no fact. */
function known(v: string | undefined): string | undefined {
  const s = (v ?? '').trim();
  return s === '' || /^\[.*\]$/.test(s) ? undefined : s;
}

/**
 * The GPUs nvidia-smi lists, with name, memory and driver/CUDA versions when it reports them;
 * [] when nvidia-smi is not installed. Falls back to `-L` when the query form is not understood.
 */
export function discoverGpus(run: SmiRunner = runNvidiaSmi): GpuInfo[] {
  let gpus: GpuInfo[];
  let queryFailed: GpuError | null = null;
  let csv: string | null;
  try {
    csv = run([`--query-gpu=${QUERY_FIELDS}`, '--format=csv,noheader,nounits']);
  } catch (e) {
    if (!(e instanceof GpuError)) throw e;
    queryFailed = e;
    csv = '';
  }
  if (csv === null) return [];
  if (queryFailed || csv.trim() === '') {
    const list = run(['-L']);
    gpus = list === null ? [] : parseListOutput(list);
    if (gpus.length === 0 && queryFailed) throw queryFailed;
  } else {
    gpus = parseQueryCsv(csv);
  }
  let cuda: string | undefined;
  try {
    cuda = parseCudaVersion(run([]) ?? '');
  } catch {
    cuda = undefined; // the versions are facts for the runs, not a reason to refuse
  }
  return gpus.map((g) => (cuda ? { ...g, cudaVersion: cuda } : g));
}
