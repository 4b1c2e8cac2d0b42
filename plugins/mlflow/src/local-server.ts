import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { endWithThisProcess } from '@iccl/trainer-api';
import { sleep } from './backoff';

/**
 * MLflow 3.x starts a pool of job-runner processes (GenAI scorers) with every server, about 1.2 GB of
 * memory measured here; a tracking server for training runs never uses them. Users can still turn them back on.
 */
const SERVER_ENV_DEFAULTS: NodeJS.ProcessEnv = { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' };

/**
 * The `mlflow` executable: $ICCL_MLFLOW_BIN (set it empty to mean "none"), else a `.venv/bin/mlflow`
 * in the current folder or a parent of it or of this package, else `mlflow` on PATH.
 */
export function findMlflowBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.ICCL_MLFLOW_BIN !== undefined) return env.ICCL_MLFLOW_BIN && fs.existsSync(env.ICCL_MLFLOW_BIN) ? env.ICCL_MLFLOW_BIN : undefined;
  for (const start of [process.cwd(), __dirname]) {
    for (let d = path.resolve(start); ; d = path.dirname(d)) {
      const cand = path.join(d, '.venv', 'bin', 'mlflow');
      if (fs.existsSync(cand)) return cand;
      if (path.dirname(d) === d) break;
    }
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const cand = path.join(dir, 'mlflow');
    try {
      fs.accessSync(cand, fs.constants.X_OK);
      return cand;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** A free TCP port on loopback (the OS picks; tiny race with other processes, acceptable locally). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface LocalServerOptions {
  /** Folder of the store: <dir>/mlflow.db and <dir>/mlartifacts (MLflow's own defaults). */
  dir: string;
  bin?: string;
  host?: string;
  /** Fixed port (e.g. to restart on the same one); default a free one. */
  port?: number;
  backendStoreUri?: string;
  artifactsDestination?: string;
  /** e.g. 'basic-auth'. */
  appName?: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for /health (default 300 s: a cold start on a busy machine is slow). */
  startTimeoutMs?: number;
}

/**
 * `mlflow server` on loopback with a sqlite store and served artifacts, started as its own process
 * group so that stop() also ends its workers, and guarded by the parent watchdog so that it ends
 * with this process however that ends (SIGKILL and the OOM killer included).
 */
export class LocalMlflowServer {
  private proc: ChildProcess | undefined;
  private stopping = false;
  private tail = '';
  private exited: { code: number | null; signal: string | null } | undefined;

  private constructor(
    readonly uri: string,
    readonly port: number,
    readonly opts: LocalServerOptions & { bin: string },
  ) {}

  static async start(opts: LocalServerOptions): Promise<LocalMlflowServer> {
    const { server, ready } = await LocalMlflowServer.begin(opts);
    await ready;
    return server;
  }

  /**
   * Starts the server without waiting for it: its URI is known at once (the port is taken first),
   * `ready` resolves when /health answers (a cold start on a busy machine takes minutes).
   */
  static async begin(opts: LocalServerOptions): Promise<{ server: LocalMlflowServer; ready: Promise<void> }> {
    const bin = opts.bin ?? findMlflowBinary();
    if (!bin) throw new Error('mlflow is not installed: no $ICCL_MLFLOW_BIN, no .venv/bin/mlflow, no mlflow on PATH (pip install mlflow)');
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? (await freePort(host));
    const server = new LocalMlflowServer(`http://${host}:${port}`, port, { ...opts, bin });
    return { server, ready: server.launch() };
  }

  get backendStoreUri(): string {
    return this.opts.backendStoreUri ?? `sqlite:///${path.resolve(this.opts.dir, 'mlflow.db')}`;
  }

  /** Starts the process (again, after stop(): same port, same store) and waits for /health. */
  async launch(): Promise<void> {
    if (this.proc && !this.exited) return;
    fs.mkdirSync(this.opts.dir, { recursive: true });
    const args = [
      'server',
      '--host', this.opts.host ?? '127.0.0.1',
      '--port', String(this.port),
      '--workers', '1',
      '--backend-store-uri', this.backendStoreUri,
      '--artifacts-destination', this.opts.artifactsDestination ?? path.resolve(this.opts.dir, 'mlartifacts'),
      '--serve-artifacts',
    ];
    if (this.opts.appName) args.push('--app-name', this.opts.appName);
    this.tail = '';
    this.exited = undefined;
    // cwd = the store's folder: whatever the server writes by default lands there, never in ours.
    const proc = spawn(this.opts.bin, args, { cwd: this.opts.dir, env: { ...SERVER_ENV_DEFAULTS, ...process.env, ...(this.opts.env ?? {}) }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (b: Buffer) => (this.tail = (this.tail + b.toString()).slice(-4000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const release = proc.pid ? endWithThisProcess(proc.pid) : () => undefined;
    proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      release();
    });
    proc.unref();
    (proc.stdout as unknown as { unref?: () => void })?.unref?.();
    (proc.stderr as unknown as { unref?: () => void })?.unref?.();
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 300_000);
    this.stopping = false;
    while (Date.now() < deadline) {
      if (this.stopping) throw new Error(`mlflow server on port ${this.port} was stopped before it answered /health`);
      const ex = this.exitState();
      if (ex) {
        throw new Error(`mlflow server on port ${this.port} exited during start-up (code ${ex.code}, signal ${ex.signal}):\n${this.tail.slice(-1500)}`);
      }
      try {
        const res = await fetch(`${this.uri}/health`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return;
      } catch {
        /* not up yet */
      }
      await sleep(250);
    }
    await this.stop();
    throw new Error(`mlflow server on port ${this.port} did not answer /health within ${(this.opts.startTimeoutMs ?? 300_000) / 1000} s:\n${this.tail.slice(-1500)}`);
  }

  private exitState(): { code: number | null; signal: string | null } | undefined {
    return this.exited;
  }

  /** Pid of the server process (the leader of its process group), while it runs. */
  get pid(): number | undefined {
    return this.exited ? undefined : this.proc?.pid;
  }

  /** Last lines the server printed (for error messages). */
  get output(): string {
    return this.tail;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const proc = this.proc;
    if (!proc || this.exited || proc.pid === undefined) return;
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-proc.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    kill('SIGTERM');
    const deadline = Date.now() + 15_000;
    while (!this.exited && Date.now() < deadline) await sleep(100);
    if (!this.exited) {
      kill('SIGKILL');
      while (!this.exited) await sleep(50);
    }
    // Workers may outlive the parent briefly; wait until the port is free for a restart on it.
    const until = Date.now() + 10_000;
    while (Date.now() < until && !(await portFree(this.port, this.opts.host ?? '127.0.0.1'))) await sleep(100);
  }
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}
