/**
 * System metrics under MLflow's own names (mlflow/system_metrics: "system/cpu_utilization_percentage",
 * "system/system_memory_usage_megabytes", ..., "system/gpu_0_utilization_percentage"), so the UI's
 * "System metrics" tab of a run fills as it does for runs of MLflow's Python client. Megabytes are 1e6
 * bytes and values are rounded to one decimal, as MLflow does.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { RunStatus, StartRunOptions, Tracker, TrackingBackend } from '@iccl/trainer-api';

export type SystemSample = Record<string, number>;

const r1 = (x: number) => Math.round(x * 10) / 10;

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

/** Bytes the kernel could hand out now (MemAvailable), else free memory. */
function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return os.freemem();
}

/** Received and sent bytes over all interfaces (Linux), undefined elsewhere. */
function networkBytes(): { rx: number; tx: number } | undefined {
  try {
    let rx = 0;
    let tx = 0;
    for (const line of fs.readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)) {
      const f = line.trim().split(/[:\s]+/);
      if (f.length < 10) continue;
      rx += Number(f[1]);
      tx += Number(f[9]);
    }
    return { rx, tx };
  } catch {
    return undefined;
  }
}

/** Parses `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,power.draw,power.limit --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): SystemSample {
  const out: SystemSample = {};
  for (const line of text.split('\n')) {
    const [index, util, used, total, power, limit] = line.split(',').map((c) => Number(c.trim()));
    if (!line.trim() || !Number.isInteger(index)) continue;
    const g = `gpu_${index}`;
    // nvidia-smi reports MiB; MLflow's megabytes are 1e6 bytes
    if (Number.isFinite(used)) out[`${g}_memory_usage_megabytes`] = r1((used * 1048576) / 1e6);
    if (Number.isFinite(used) && total > 0) out[`${g}_memory_usage_percentage`] = r1((used / total) * 100);
    if (Number.isFinite(util)) out[`${g}_utilization_percentage`] = r1(util);
    if (Number.isFinite(power)) out[`${g}_power_usage_watts`] = r1(power);
    if (Number.isFinite(power) && limit > 0) out[`${g}_power_usage_percentage`] = r1((power / limit) * 100);
  }
  return out;
}

/** GPU metrics from nvidia-smi; {} when it is not installed or fails (no NVIDIA GPU here). */
function gpuSample(): Promise<SystemSample> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      [
        '--query-gpu=index,utilization.gpu,memory.used,memory.total,power.draw,power.limit',
        '--format=csv,noheader,nounits',
      ],
      { timeout: 5000, env: process.env },
      (err, stdout) => resolve(err ? {} : parseNvidiaSmi(stdout)),
    );
  });
}

/** Takes samples of the machine: CPU busy share since the previous sample, memory, disk, network since the first. */
export class SystemSampler {
  private cpu = cpuTimes();
  private readonly net0 = networkBytes();
  private gpus = true;

  async sample(): Promise<SystemSample> {
    let cpu = cpuTimes();
    // The kernel counts CPU time in 10 ms ticks: a run that ends within one tick of the last sample
    // would get no CPU share at all, so measure it over a short window instead.
    if (cpu.total - this.cpu.total <= 0) {
      await new Promise((r) => setTimeout(r, 50));
      cpu = cpuTimes();
    }
    const dTotal = cpu.total - this.cpu.total;
    const out: SystemSample = {};
    if (dTotal > 0) out.cpu_utilization_percentage = r1(100 * (1 - (cpu.idle - this.cpu.idle) / dTotal));
    this.cpu = cpu;
    const total = os.totalmem();
    const used = total - availableMemory();
    out.system_memory_usage_megabytes = r1(used / 1e6);
    out.system_memory_usage_percentage = r1((used / total) * 100);
    try {
      const s = fs.statfsSync('/');
      const usedDisk = (s.blocks - s.bfree) * s.bsize;
      const free = s.bavail * s.bsize;
      out.disk_usage_percentage = r1((usedDisk / (usedDisk + free)) * 100);
      out.disk_usage_megabytes = r1(usedDisk / 1e6);
      out.disk_available_megabytes = r1(free / 1e6);
    } catch {
      /* no statfs here */
    }
    const net = networkBytes();
    if (net && this.net0) {
      out.network_receive_megabytes = r1((net.rx - this.net0.rx) / 1e6);
      out.network_transmit_megabytes = r1((net.tx - this.net0.tx) / 1e6);
    }
    if (this.gpus) {
      const g = await gpuSample();
      // asked once more only while it answers: no nvidia-smi means no process spawned every interval
      if (!Object.keys(g).length) this.gpus = false;
      Object.assign(out, g);
    }
    return out;
  }
}

export interface SystemMetricsOptions {
  /** Seconds between samples; default $MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL, else MLflow's 10. */
  intervalSeconds?: number;
}

/** Samples every interval into `log` as system/<name> at steps 0, 1, 2, ... (MLflow's steps) until stop(). */
export class SystemMetricsMonitor {
  private timer?: NodeJS.Timeout;
  private step = 0;
  private readonly sampler = new SystemSampler();
  private pending: Promise<void> = Promise.resolve();
  readonly intervalMs: number;

  constructor(
    private readonly log: (metrics: Record<string, number>, step: number) => void,
    o: SystemMetricsOptions = {},
  ) {
    const env = Number(process.env.MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL);
    const s = o.intervalSeconds ?? (env > 0 ? env : 10);
    if (!(s > 0))
      throw new RangeError(`system metrics interval: got ${s} s, expected a positive number of seconds`);
    this.intervalMs = s * 1000;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    this.pending = this.pending.then(async () => {
      const s = await this.sampler.sample();
      this.log(Object.fromEntries(Object.entries(s).map(([k, v]) => [`system/${k}`, v])), this.step++);
    });
  }

  /** Stops; a run shorter than one interval still gets one sample (taken now). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.step === 0) this.tick();
    await this.pending;
  }
}

/** MLflow's switch, honoured when set to false; on otherwise (MLflow's own default is off). */
export function systemMetricsEnabled(): boolean {
  return !/^(false|0|no)$/i.test(process.env.MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING ?? '');
}

/** What a backend that logs to an MLflow experiment can say about it. */
export interface ExperimentIdOf {
  experimentId?: () => Promise<string>;
}

/**
 * A tracking backend whose trial runs (runs with a parent) log system metrics while they are open;
 * `allRuns` does it for every run (a single run from the plugin runner has no parent).
 */
export function withSystemMetrics(
  backend: TrackingBackend,
  o: SystemMetricsOptions & { allRuns?: boolean } = {},
): TrackingBackend & ExperimentIdOf {
  if (!systemMetricsEnabled()) return backend;
  const inner = backend as ExperimentIdOf;
  return {
    // MLflow backends know their experiment (for links to its runs table): keep that visible
    ...(typeof inner.experimentId === 'function' ? { experimentId: () => inner.experimentId!() } : {}),
    get name() {
      return backend.name;
    },
    close: () => backend.close(),
    async startRun(options: StartRunOptions): Promise<Tracker> {
      const t = await backend.startRun(options);
      if (!options.parentRunId && !o.allRuns) return t;
      const monitor = new SystemMetricsMonitor((m, step) => t.logMetrics(m, step), o);
      monitor.start();
      return {
        get runId() {
          return t.runId;
        },
        logParams: (p) => t.logParams(p),
        logMetrics: (m, step, ts) => t.logMetrics(m, step, ts),
        setTags: (tags) => t.setTags(tags),
        logInput: (d) => t.logInput(d),
        logArtifact: (p, a) => t.logArtifact(p, a),
        flush: () => t.flush(),
        async end(status: RunStatus, reason?: string) {
          await monitor.stop();
          await t.end(status, reason);
        },
      };
    },
  };
}
