/*
 * 100,000 metric points (10 metrics x 10,000 steps) into a local MLflow server (sqlite store):
 * ours (MlflowClient.logBatch, and the queued MlflowTracker end to end) vs MLflow's Python
 * client log_batch, same batch size (1000), same server, same run of this script.
 *   npx tsx bench/mlflow/log-throughput.ts [--metrics 10] [--steps 10000] [--rounds 2]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { silentLogger } from '@iccl/trainer-api';
import { LocalMlflowServer, MlflowClient, MlflowTrackingBackend, findMlflowBinary, type MetricPoint } from '@iccl/mlflow';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

async function main(): Promise<void> {
  const nMetrics = arg('metrics', 10);
  const nSteps = arg('steps', 10_000);
  const rounds = arg('rounds', 2);
  const batch = 1000;
  const bin = findMlflowBinary();
  if (!bin) throw new Error('mlflow not found (.venv/bin/mlflow or PATH)');
  const python = path.join(path.dirname(bin), 'python');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-bench-mlflow-'));
  const server = await LocalMlflowServer.start({ dir, bin });
  const client = new MlflowClient({ trackingUri: server.uri, credentials: {} });
  const exp = await client.getOrCreateExperiment('bench');
  const total = nMetrics * nSteps;
  const rows: { who: string; seconds: number }[] = [];
  const check = async (runId: string) => {
    const h = await client.getMetricHistory(runId, 'm0');
    if (h.length !== nSteps) throw new Error(`run ${runId}: m0 has ${h.length} points, expected ${nSteps}`);
  };
  try {
    for (let r = 0; r < rounds; r++) {
      // Ours, client layer: same batches as the Python anchor.
      {
        const run = await client.createRun({ experimentId: exp, runName: `ts-client-${r}` });
        const ts = Date.now();
        const points: MetricPoint[] = [];
        for (let s = 0; s < nSteps; s++) for (let k = 0; k < nMetrics; k++) points.push({ key: `m${k}`, value: s * nMetrics + k, timestamp: ts + s, step: s });
        const t0 = performance.now();
        for (let i = 0; i < points.length; i += batch) await client.logBatch(run.info.run_id, { metrics: points.slice(i, i + batch) });
        rows.push({ who: 'ours: MlflowClient.logBatch', seconds: (performance.now() - t0) / 1000 });
        await check(run.info.run_id);
      }
      // Ours, tracker layer: logMetrics per step (queue, batching, flush), timed until flushed.
      {
        const backend = new MlflowTrackingBackend({ client, experimentName: 'bench', spoolDir: path.join(dir, 'spool'), logger: silentLogger, handleSigint: false });
        const t = await backend.startRun({ name: `ts-tracker-${r}` });
        const t0 = performance.now();
        const m: Record<string, number> = {};
        for (let s = 0; s < nSteps; s++) {
          for (let k = 0; k < nMetrics; k++) m[`m${k}`] = s * nMetrics + k;
          t.logMetrics(m, s);
        }
        await t.flush();
        rows.push({ who: 'ours: MlflowTracker.logMetrics + flush', seconds: (performance.now() - t0) / 1000 });
        await t.end('FINISHED');
        await backend.close();
        await check(t.runId);
      }
      // Anchor: MLflow's Python client.
      {
        // Async, so this process keeps serving its own sockets' timers while Python runs.
        const { stdout: out } = await promisify(execFile)(python, [path.join(__dirname, 'log_batch.py'), server.uri, 'bench', String(nMetrics), String(nSteps), String(batch)], { encoding: 'utf8' });
        const res = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; run_id: string };
        rows.push({ who: 'MLflow Python client log_batch', seconds: res.seconds });
        await check(res.run_id);
      }
    }
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const best = (who: string) => Math.min(...rows.filter((x) => x.who === who).map((x) => x.seconds));
  const py = best('MLflow Python client log_batch');
  console.log(`${total} points (${nMetrics} metrics x ${nSteps} steps), batch ${batch}, best of ${rounds} rounds; machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}`);
  console.log('| client | seconds | points/s | speed vs Python |');
  console.log('|---|---|---|---|');
  for (const who of [...new Set(rows.map((x) => x.who))]) {
    const s = best(who);
    console.log(`| ${who} | ${s.toFixed(2)} | ${Math.round(total / s)} | ${(py / s).toFixed(2)}x |`);
  }
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
