/*
 * CPU cost of our client side per logged point, without a server (its answers are stubbed with 200
 * '{}'): logMetrics -> queue -> log-batch split -> JSON body. Machine load and the server's own CPU
 * do not enter, so this is the number to set against a training step's time.
 *   npx tsx bench/mlflow/client-cost.ts [--steps 250000]
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '@iccl/trainer-api';
import { MlflowClient, MlflowTrackingBackend } from '@iccl/mlflow';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

async function main(): Promise<void> {
  const steps = arg('steps', 250_000);
  let bodyBytes = 0;
  let requests = 0;
  const client = new MlflowClient({
    trackingUri: 'http://127.0.0.1:1',
    credentials: {},
    transport: async (req) => {
      requests++;
      if (typeof req.body === 'string') bodyBytes += req.body.length;
      if (req.url.includes('get-by-name')) return { status: 200, text: JSON.stringify({ experiment: { experiment_id: '1', name: 'x' } }) };
      if (req.url.endsWith('/runs/create')) return { status: 200, text: JSON.stringify({ run: { info: { run_id: 'r', experiment_id: '1', status: 'RUNNING', artifact_uri: 'mlflow-artifacts:/1/r/artifacts' } } }) };
      return { status: 200, text: '{}' };
    },
  });
  const backend = new MlflowTrackingBackend({ client, spoolDir: path.join(os.tmpdir(), 'iccl-client-cost'), logger: silentLogger, handleSigint: false });
  const t = await backend.startRun({ name: 'cost' });
  const m = { loss: 0, acc: 0, lr: 0.1, grad_norm: 0 };
  for (let s = 0; s < 20_000; s++) t.logMetrics(m, s); // warm-up
  await t.flush();
  requests = 0;
  bodyBytes = 0;
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  for (let s = 0; s < steps; s++) {
    m.loss = 1 / (s + 1);
    m.acc = s / steps;
    m.grad_norm = s % 7;
    t.logMetrics(m, s);
    if (s % 1000 === 999) await new Promise((r) => setImmediate(r)); // let the flusher run, as a training loop would
  }
  await t.flush();
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const points = steps * 4;
  await t.end('FINISHED');
  await backend.close();
  console.log(`${points} points (${steps} steps x 4 metrics), ${requests} log-batch requests, ${(bodyBytes / 1e6).toFixed(1)} MB of JSON; wall ${((performance.now() - w0) / 1000).toFixed(2)} s`);
  console.log(`client CPU: ${((cpu / points) * 1e6).toFixed(2)} us per point, ${((cpu / steps) * 1e6).toFixed(2)} us per step of 4 metrics`);
  for (const ms of [1, 10, 100]) console.log(`  a ${ms} ms training step logging 4 metrics keeps ${(100 * (ms / 1000) / (ms / 1000 + cpu / steps)).toFixed(2)} % of its speed`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
