/*
 * Does logging every step slow training? A loop of CPU-bound "training steps" (a dense matmul,
 * about 1-2 ms each) that logs 4 metrics every step: MlflowTracker (to a local MLflow server) vs
 * NullTracker, alternating, same process. Target: >= 99 % of the null tracker's speed.
 *   npx tsx bench/mlflow/overhead.ts [--steps 4000] [--n 96] [--rounds 3]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NullTracker, silentLogger, type Tracker } from '@iccl/trainer-api';
import { LocalMlflowServer, MlflowClient, MlflowTrackingBackend, findMlflowBinary } from '@iccl/mlflow';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const n = arg('n', 96);
const a = new Float64Array(n * n).map((_, i) => Math.sin(i));
const b = new Float64Array(n * n).map((_, i) => Math.cos(i));
const c = new Float64Array(n * n);

/** One fake training step: C = A·B, returns a scalar so the work cannot be optimised away. */
function step(): number {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  return c[0];
}

interface Timing {
  wall: number;
  /** This process's CPU seconds (user + system): the training loop plus our queue and flusher, not the server's or other processes'. */
  cpu: number;
}

async function loop(t: Tracker, steps: number): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let acc = 0;
  for (let s = 0; s < steps; s++) {
    acc += step();
    t.logMetrics({ loss: 1 / (s + 1), acc: acc % 1, lr: 0.1, grad_norm: s % 7 }, s);
    // Yield like an async training loop does (tf's dataSync/await per batch), so the flusher can run.
    if (s % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  // Until flushed: the time to send what the loop queued belongs to the tracked run.
  await t.flush();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

async function main(): Promise<void> {
  const steps = arg('steps', 4000);
  const rounds = arg('rounds', 3);
  const bin = findMlflowBinary();
  if (!bin) throw new Error('mlflow not found');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-bench-overhead-'));
  const server = await LocalMlflowServer.start({ dir, bin });
  const backend = new MlflowTrackingBackend({ client: new MlflowClient({ trackingUri: server.uri, credentials: {} }), experimentName: 'overhead', spoolDir: path.join(dir, 'spool'), logger: silentLogger, handleSigint: false });
  const nullTimes: Timing[] = [];
  const mlTimes: Timing[] = [];
  try {
    await loop(new NullTracker(), 300); // warm-up (JIT)
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so a load change on the machine hits both sides alike.
      const runNull = async () => nullTimes.push(await loop(new NullTracker(), steps));
      const runMl = async () => {
        const t = await backend.startRun({ name: `overhead-${r}` });
        mlTimes.push(await loop(t, steps));
        await t.end('FINISHED');
      };
      if (r % 2 === 0) {
        await runNull();
        await runMl();
      } else {
        await runMl();
        await runNull();
      }
    }
  } finally {
    await backend.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
  const wall = (x: Timing[]) => x.map((t) => t.wall);
  const cpu = (x: Timing[]) => x.map((t) => t.cpu);
  const f = (x: number[]) => x.map((v) => v.toFixed(2)).join(', ');
  console.log(`${steps} steps of a ${n}x${n} matmul (${((med(cpu(nullTimes)) / steps) * 1000).toFixed(2)} ms CPU/step), 4 metrics logged per step, median of ${rounds} rounds; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}`);
  console.log('| tracker | wall s (each round) | median wall | CPU s of this process (each round) | median CPU |');
  console.log('|---|---|---|---|---|');
  console.log(`| NullTracker | ${f(wall(nullTimes))} | ${med(wall(nullTimes)).toFixed(2)} | ${f(cpu(nullTimes))} | ${med(cpu(nullTimes)).toFixed(2)} |`);
  console.log(`| MlflowTracker (local server) | ${f(wall(mlTimes))} | ${med(wall(mlTimes)).toFixed(2)} | ${f(cpu(mlTimes))} | ${med(cpu(mlTimes)).toFixed(2)} |`);
  console.log(`speed with MLflow logging, wall clock = ${((med(wall(nullTimes)) / med(wall(mlTimes))) * 100).toFixed(1)} % of the null tracker (includes the local server's CPU on the same cores and other load)`);
  console.log(`speed with MLflow logging, this process's CPU = ${((med(cpu(nullTimes)) / med(cpu(mlTimes))) * 100).toFixed(1)} % of the null tracker (target >= 99 %)`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
