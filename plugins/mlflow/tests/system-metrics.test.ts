import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MlflowTrackingBackend } from '../src/backend';
import { EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND } from '../src/experiment-kind';
import { parseNvidiaSmi, SystemSampler, withSystemMetrics } from '../src/system-metrics';
import { mainClient, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

/** MLflow's own Python client on the test server: what a user's notebook would read. */
function pyMlflow(code: string, ...args: string[]): string {
  const py = path.join(path.dirname(requireEnv('ICCL_TEST_MLFLOW_BIN')), 'python');
  return execFileSync(py, ['-c', code, ...args], {
    env: { ...process.env, MLFLOW_TRACKING_URI: requireEnv('ICCL_TEST_MLFLOW_URI') },
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
}

describe('SystemSampler', () => {
  test('a sample taken within one 10 ms kernel tick of the last still has a CPU share (short runs)', async () => {
    for (let i = 0; i < 20; i++) {
      const s = await new SystemSampler().sample();
      expect(s.cpu_utilization_percentage).toBeGreaterThanOrEqual(0);
      expect(s.cpu_utilization_percentage).toBeLessThanOrEqual(100);
    }
  });
});

describe('experiments open as model training in MLflow 3.x', () => {
  test('a new experiment carries mlflow.experimentKind; an older one without a kind gets it, one with a kind keeps it', async () => {
    const client = mainClient();
    const [name, old, genai] = ['kind', 'kind-old', 'kind-genai'].map(uniqueName);
    const id = await client.getOrCreateExperiment(name);
    expect(await client.getOrCreateExperiment(name)).toBe(id);
    // made by another client: one without a kind, one a user marked GenAI
    pyMlflow(
      'import mlflow,sys; c=mlflow.MlflowClient(); c.create_experiment(sys.argv[1]); c.create_experiment(sys.argv[2], tags={sys.argv[3]: "genai_development"})',
      old,
      genai,
      EXPERIMENT_KIND_TAG,
    );
    await client.getOrCreateExperiment(old);
    await client.getOrCreateExperiment(genai);
    const tags = pyMlflow(
      'import mlflow,sys; c=mlflow.MlflowClient(); print(" ".join(str(c.get_experiment_by_name(n).tags.get(sys.argv[1])) for n in sys.argv[2:]))',
      EXPERIMENT_KIND_TAG,
      name,
      old,
      genai,
    );
    expect(tags).toBe(`${MODEL_TRAINING_KIND} ${MODEL_TRAINING_KIND} genai_development`);
  });
});

describe('system metrics under MLflow names', () => {
  test('nvidia-smi CSV to gpu_<i>_* (megabytes of 1e6 bytes, one decimal)', () => {
    const s = parseNvidiaSmi('0, 37, 1024, 81920, 120.5, 700\n1, 0, 0, 81920, [N/A], [N/A]\n');
    expect(s).toEqual({
      gpu_0_utilization_percentage: 37,
      gpu_0_memory_usage_megabytes: 1073.7, // 1024 MiB = 1073.741824 MB
      gpu_0_memory_usage_percentage: 1.3, // 1.25 %
      gpu_0_power_usage_watts: 120.5,
      gpu_0_power_usage_percentage: 17.2, // 120.5 / 700
      gpu_1_utilization_percentage: 0,
      gpu_1_memory_usage_megabytes: 0,
      gpu_1_memory_usage_percentage: 0,
    });
  });

  test('a trial run logs system/* while open (GPU ones from nvidia-smi); the parent run does not', async () => {
    // a stand-in nvidia-smi first on PATH: this machine's GPUs as the driver would report them
    const bin = tmpDir('smi');
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), '#!/bin/sh\necho "0, 55, 2048, 16384, 90, 300"\n', {
      mode: 0o755,
    });
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
    try {
      const inner = new MlflowTrackingBackend({
        client: mainClient(),
        experimentName: uniqueName('sysm'),
        spoolDir: tmpDir('sysm-spool'),
        logger: recordingLogger(),
        handleSigint: false,
      });
      const backend = withSystemMetrics(inner, { intervalSeconds: 0.3 });
      const study = await backend.startRun({ name: 'study' });
      const trial = await backend.startRun({ name: 'trial-0', parentRunId: study.runId });
      // keep a core busy so CPU utilisation is measurably above zero
      const until = Date.now() + 1500;
      let x = 0;
      while (Date.now() < until) x += Math.sqrt(x + 1);
      await new Promise((r) => setTimeout(r, 400));
      await trial.end('FINISHED');
      await study.end('FINISHED');
      await backend.close();
      const read = (id: string) =>
        JSON.parse(
          pyMlflow(
            'import mlflow,sys,json; c=mlflow.MlflowClient(); r=c.get_run(sys.argv[1]); print(json.dumps({k: [m.step for m in c.get_metric_history(sys.argv[1], k)] + [v] for k, v in r.data.metrics.items()}))',
            id,
          ),
        ) as Record<string, number[]>;
      const m = read(trial.runId);
      for (const k of [
        'cpu_utilization_percentage',
        'system_memory_usage_megabytes',
        'system_memory_usage_percentage',
        'disk_usage_percentage',
        'disk_usage_megabytes',
        'disk_available_megabytes',
        'gpu_0_utilization_percentage',
        'gpu_0_memory_usage_megabytes',
      ]) {
        expect(Object.keys(m)).toContain(`system/${k}`);
      }
      const steps = m['system/cpu_utilization_percentage'].slice(0, -1);
      expect(steps.length).toBeGreaterThanOrEqual(2);
      expect(steps).toEqual(steps.map((_s, i) => i)); // MLflow's steps: 0, 1, 2, ...
      const last = (k: string) => m[`system/${k}`].at(-1)!;
      expect(last('cpu_utilization_percentage')).toBeGreaterThan(0);
      expect(last('cpu_utilization_percentage')).toBeLessThanOrEqual(100);
      const totalMb = os.totalmem() / 1e6;
      expect(last('system_memory_usage_megabytes')).toBeGreaterThan(0);
      expect(last('system_memory_usage_megabytes')).toBeLessThan(totalMb);
      expect(last('system_memory_usage_percentage')).toBeCloseTo(
        (100 * last('system_memory_usage_megabytes')) / totalMb,
        0,
      );
      expect(last('gpu_0_utilization_percentage')).toBe(55);
      expect(last('gpu_0_memory_usage_percentage')).toBe(12.5);
      expect(Object.keys(read(study.runId)).filter((k) => k.startsWith('system/'))).toEqual([]);
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe('the plugin runner logs one trial to MLflow', () => {
  test('--tracker mlflow:URI: one run with params, metrics and system metrics, in a model-training experiment', () => {
    const uri = requireEnv('ICCL_TEST_MLFLOW_URI');
    const exp = uniqueName('runner');
    const repo = path.resolve(__dirname, '../../..');
    execFileSync(process.execPath, ['--import', 'tsx', 'plugins/runner/src/cli.ts', '@iccl/toy', '--set', 'x=0.5', '--tracker', `mlflow:${uri}`, '--run-id', 'toy-1', '--work-dir', tmpDir('runner-work')], {
      cwd: repo,
      env: { ...process.env, MLFLOW_EXPERIMENT_NAME: exp, MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL: '0.2' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 240_000,
    });
    const r = JSON.parse(
      pyMlflow(
        'import mlflow,sys,json; c=mlflow.MlflowClient(); e=c.get_experiment_by_name(sys.argv[1]); rs=c.search_runs([e.experiment_id]); print(json.dumps({"kind": e.tags.get(sys.argv[2]), "runs": [{"name": x.info.run_name, "status": x.info.status, "params": x.data.params, "metrics": sorted(x.data.metrics)} for x in rs]}))',
        exp,
        EXPERIMENT_KIND_TAG,
      ),
    ) as { kind: string; runs: { name: string; status: string; params: Record<string, string>; metrics: string[] }[] };
    expect(r.kind).toBe(MODEL_TRAINING_KIND);
    expect(r.runs).toHaveLength(1);
    expect(r.runs[0]).toMatchObject({ name: 'toy-1', status: 'FINISHED' });
    expect(r.runs[0].params.x).toBe('0.5');
    expect(r.runs[0].metrics).toEqual(expect.arrayContaining(['loss', 'system/cpu_utilization_percentage', 'system/system_memory_usage_megabytes']));
  });
});
