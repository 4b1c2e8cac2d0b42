import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareSteps, cudaDevicePresent, readStepValues } from '@iccl/tf-backend';

// `npx nx run tf-backend:gpu-check` drives this package's worker; without a GPU its CPU half is what runs here.
const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'plugins/tf-backend/src/gpu-check/cli.ts');
const WORKER = path.join(REPO, 'plugins/iccl/src/gpu-check/worker.ts');
const SMALL = ['--model', 'resnet8', '--side', '32'];

function gpuPackageInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node-gpu/package.json');
    return true;
  } catch {
    return false;
  }
}

function node(file: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
}

describe('gpu-check', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-gpu-check-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ends with one "no CUDA device" line on a machine without one (and checks the GPU on a machine with one)', () => {
    if (!cudaDevicePresent()) {
      const r = node(CLI, []);
      expect(r.status).toBe(1);
      expect(r.stdout.trim().split('\n')).toEqual(['gpu-check: no CUDA device found (no /dev/nvidia0): this machine cannot run the GPU backend; nothing was checked']);
    } else if (!gpuPackageInstalled()) {
      const r = node(CLI, []);
      expect(r.stdout.trim().split('\n')).toEqual(['gpu-check: @tensorflow/tfjs-node-gpu is not installed: run `bash tools/setup.sh --gpu` first']);
    } else {
      const r = node(CLI, [...SMALL, '--batch', '2', '--steps', '1', '--compare-side', '32']);
      expect(r.stdout.trim().split('\n').pop()).toMatch(/^gpu-check PASS \| (?!cpu only)/);
    }
  }, 300_000);

  it('runs its whole pipeline CPU against CPU and prints the line to paste', () => {
    const r = node(CLI, ['--device', 'cpu', ...SMALL, '--batch', '2', '--steps', '1', '--compare-side', '32']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('paste into an issue:');
    expect(lines[lines.length - 1]).toMatch(/^gpu-check PASS \| cpu only \| TF 2\.\d+\.\d+ tfjs 4\.\d+\.\d+ \| resnet8 b2 [\d.]+ ms\/step \| ICCL step [\d.]+ ms \| XLA vs eager \d\.\de[-+]\d+ \(tol 0\.0001\) \| grad rel diff 0\.0e\+0 \(tol 0\.001\)/);
    // the compiled engine with XLA against the eager one, on the device (here the CPU's XLA)
    expect(lines.find((l) => l.startsWith('compiled:'))).toMatch(/^compiled: +5 ICCL steps with XLA against eager \(resnet8, 32px, batch 4\): loss differs by \S+, worst weight \S+ by \S+ \(tolerance 0\.0001\): agree; /);
  });

  it('finds the gradients of two CPU processes equal, and a perturbed one different', () => {
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    for (const f of [a, b]) expect(node(WORKER, ['compare', f, '--device', 'cpu', ...SMALL]).status).toBe(0);
    const ra = readStepValues(a);
    const rb = readStepValues(b);
    expect(ra.grads.length).toBeGreaterThan(20); // backbone, classifier and projection head
    expect(ra.grads.some((g) => g.name.startsWith('proj/'))).toBe(true); // the ICC loss reached the head
    expect(Number.isFinite(ra.loss) && ra.loss > 0).toBe(true);
    expect(compareSteps(ra, rb)).toMatchObject({ ok: true, lossDiff: 0, problems: [] });

    // One element moved by 1% of its tensor's norm: the kind of error a wrong kernel makes.
    const g = rb.grads[3];
    let n = 0;
    for (const v of g.values) n += v * v;
    g.values[0] += 0.01 * Math.sqrt(n);
    const c = compareSteps(ra, rb);
    expect(c.ok).toBe(false);
    expect(c.problems).toEqual([expect.stringMatching(new RegExp(`^gradient ${g.name.replace(/\//g, '\\/')}: differs by 1\\.00e-2 of its norm`))]);
  });
});
