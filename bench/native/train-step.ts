/**
 * Training-step benchmark: ours (TensorFlow.js on native libtensorflow) against PyTorch on the same
 * CPU, same network, same batch, same step (forward, cross-entropy, backward, SGD momentum + weight
 * decay), images/s after warm-up, run in the same job with the same thread count.
 *
 *   npx tsx bench/native/train-step.ts [--quick] [--threads 2] [--python /usr/bin/python3]
 *
 * Writes bench/results/native.md. Each side runs in its own process so that peak memory is its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Row {
  model: string;
  batch: number;
  ours: number;
  torch: number;
  oursRss: number;
  torchRss: number;
  torchVersion: string;
  tfVersion: string;
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const quick = args.includes('--quick');
const threads = Number(opt('--threads', '2'));
const python = opt('--python', '/usr/bin/python3');
const root = path.resolve(__dirname, '../..');

const cases = [
  { model: 'resnet32', batch: 128, steps: quick ? 3 : 10, warmup: 2 },
  { model: 'resnet50', batch: 32, steps: quick ? 2 : 5, warmup: 1 },
];

function ours(model: string, batch: number, steps: number, warmup: number): { ips: number; rss: number; tf: string } {
  const child = path.join(__dirname, 'ours-step.ts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', child, model, String(batch), String(steps), String(warmup)], {
    cwd: root,
    encoding: 'utf8',
    // Intra-op threads pinned like torch.set_num_threads; inter-op left at both libraries' default (the core count).
    env: { ...process.env, TF_NUM_INTRAOP_THREADS: String(threads), TF_CPP_MIN_LOG_LEVEL: '2' },
    maxBuffer: 1 << 24,
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { images_per_s: number; peak_rss_mb: number; tf: string };
  return { ips: r.images_per_s, rss: r.peak_rss_mb, tf: r.tf };
}

function torch(model: string, batch: number, steps: number, warmup: number): { ips: number; rss: number; version: string } {
  const r = spawnSync(python, [path.join(__dirname, 'torch_step.py'), '--model', model, '--batch', String(batch), '--steps', String(steps), '--warmup', String(warmup), '--threads', String(threads)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) throw new Error(`PyTorch anchor failed (${python}): ${r.stderr.split('\n').slice(-3).join(' ')}; install python3-torch`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { images_per_s: number; peak_rss_mb: number; torch: string };
  return { ips: j.images_per_s, rss: j.peak_rss_mb, version: j.torch };
}

const rows: Row[] = [];
for (const c of cases) {
  const a = ours(c.model, c.batch, c.steps, c.warmup);
  const b = torch(c.model, c.batch, c.steps, c.warmup);
  rows.push({ model: c.model, batch: c.batch, ours: a.ips, torch: b.ips, oursRss: a.rss, torchRss: b.rss, torchVersion: b.version, tfVersion: a.tf });
  process.stdout.write(`${c.model} b${c.batch}: ours ${a.ips.toFixed(1)} img/s, PyTorch ${b.ips.toFixed(1)} img/s, ratio ${(a.ips / b.ips).toFixed(2)}\n`);
}

const cpu = (() => {
  try {
    return execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const table = [
  `## Training step, ours vs PyTorch (${new Date().toISOString().slice(0, 10)}${quick ? ', quick run' : ''})`,
  '',
  `CPU: ${cpu}; ${threads} threads each; ours: TensorFlow.js ${'4.22.0'} on libtensorflow ${rows[0]?.tfVersion}; anchor: PyTorch ${rows[0]?.torchVersion} (${python}).`,
  'Step = forward + cross-entropy + backward + SGD (momentum 0.9, weight decay), random inputs, images/s after warm-up.',
  '',
  '| network | batch | input | ours img/s | PyTorch img/s | ratio ours/PyTorch | peak RSS ours MB | peak RSS PyTorch MB |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.batch} | ${r.model === 'resnet32' ? '32x32x3' : '224x224x3'} | ${r.ours.toFixed(1)} | ${r.torch.toFixed(1)} | ${(r.ours / r.torch).toFixed(2)} | ${r.oursRss.toFixed(0)} | ${r.torchRss.toFixed(0)} |`,
  ),
  '',
].join('\n');
fs.mkdirSync(path.join(__dirname, '../results'), { recursive: true });
fs.writeFileSync(path.join(__dirname, '../results/native.md'), table);
process.stdout.write(table);
