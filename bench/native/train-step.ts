/**
 * Training-step benchmark: ours (TensorFlow.js on native libtensorflow) against PyTorch (newest from
 * the Python package index, in bench/.venv-torch, installed by setup-torch.sh) on the same CPU, same
 * network, same batch, same step, images/s after warm-up, in the same job with the same threads.
 *
 *   npx tsx bench/native/train-step.ts [--quick] [--threads 2] [--repeat 2] [--only resnet32] [--python PATH]
 *
 * Rows: cross-entropy and ICCL steps of ResNet-32 (b128, 32x32) and ResNet-50 (b32, 224), plus our
 * cross-entropy step as it was before issue 13 (tfjs tape walk and gradients, oneDNN off). Every
 * run is its own process, so peak RSS is its own. Sides alternate (ours, PyTorch, PyTorch with
 * OMP_WAIT_POLICY=PASSIVE, then the reverse order), `--repeat` rounds, best images/s of each kept:
 * on a loaded machine PyTorch's spinning OpenMP threads lose most, and the passive policy is its
 * better setting there, so the anchor is the best of both. Load averages are recorded per row.
 * Writes bench/results/native.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface Run {
  images_per_s: number;
  ms_per_step: number;
  peak_rss_mb: number;
  tf?: string;
  torch?: string;
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt);
const quick = args.includes('--quick');
const threads = Number(opt('--threads', '2'));
const repeat = Number(opt('--repeat', quick ? '1' : '2'));
const only = opt('--only', '');
const root = path.resolve(__dirname, '../..');
const python = opt('--python', path.join(root, 'bench/.venv-torch/bin/python'));

if (!args.includes('--python')) execFileSync('bash', [path.join(__dirname, 'setup-torch.sh')], { stdio: 'inherit' });

const cases = [
  // ResNet-50 rows: one round (each side's run is long enough to average out scheduling noise).
  { model: 'resnet32', batch: 128, method: 'ce', steps: quick ? 2 : 5, warmup: 1, before: true, rounds: repeat, policies: ['default', 'passive'] },
  { model: 'resnet32', batch: 128, method: 'iccl', steps: quick ? 2 : 4, warmup: 1, before: false, rounds: repeat, policies: ['default', 'passive'] },
  { model: 'resnet50', batch: 32, method: 'ce', steps: quick ? 1 : 2, warmup: 1, before: true, rounds: 1, policies: ['default', 'passive'] },
  { model: 'resnet50', batch: 32, method: 'iccl', steps: quick ? 1 : 2, warmup: 1, before: false, rounds: 1, policies: ['default', 'passive'] },
].filter((c) => !only || c.model === only);

function ours(c: (typeof cases)[number], mode: 'now' | 'before' | 'compiled' | 'compiled-bf16'): Run {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'ours-step.ts'), c.model, String(c.batch), String(c.steps), String(c.warmup), c.method, mode],
    {
      cwd: root,
      encoding: 'utf8',
      // Intra-op threads pinned like torch.set_num_threads; inter-op left at both libraries' default.
      env: { ...process.env, TF_NUM_INTRAOP_THREADS: String(threads), TF_CPP_MIN_LOG_LEVEL: '2', ...(mode === 'before' ? { TF_ENABLE_ONEDNN_OPTS: '0' } : {}) },
      maxBuffer: 1 << 24,
    },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

function torch(c: (typeof cases)[number], passive: boolean): Run {
  const r = spawnSync(
    python,
    [path.join(__dirname, 'torch_step.py'), '--model', c.model, '--batch', String(c.batch), '--steps', String(c.steps), '--warmup', String(c.warmup), '--threads', String(threads), '--method', c.method],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads), ...(passive ? { OMP_WAIT_POLICY: 'PASSIVE' } : {}) } },
  );
  if (r.status !== 0) throw new Error(`PyTorch anchor failed (${python}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Run;
}

const best = (runs: Run[]) => runs.reduce((a, b) => (b.images_per_s > a.images_per_s ? b : a));
const load = () => os.loadavg()[0].toFixed(1);

interface Row {
  c: (typeof cases)[number];
  ours: Run;
  before: Run | null;
  /** engine `compiled` (issue 23): every row (ICCL's per-step draws are fed to the graph since 84b02c3) */
  compiled: Run | null;
  /** the same with precision bf16 (convolutions and matrix products in bfloat16) */
  bf16: Run | null;
  torch: Run;
  torchAll: { policy: string; ips: number }[];
  load: string[];
}
const rows: Row[] = [];
for (const c of cases) {
  const o: Run[] = [];
  const bf: Run[] = [];
  const cp: Run[] = [];
  const b16: Run[] = [];
  const t: { run: Run; policy: string }[] = [];
  const loads = [load()];
  for (let r = 0; r < c.rounds; r++) {
    const jobs: (() => void)[] = [
      () => o.push(ours(c, 'now')),
      () => cp.push(ours(c, 'compiled')),
      ...(c.method === 'ce' ? [() => b16.push(ours(c, 'compiled-bf16'))] : []),
      ...c.policies.map((p) => () => t.push({ run: torch(c, p === 'passive'), policy: p })),
      ...(c.before ? [() => bf.push(ours(c, 'before'))] : []),
    ];
    for (const j of r % 2 === 0 ? jobs : jobs.reverse()) j();
    loads.push(load());
  }
  const row: Row = {
    c,
    ours: best(o),
    before: bf.length ? best(bf) : null,
    compiled: cp.length ? best(cp) : null,
    bf16: b16.length ? best(b16) : null,
    torch: best(t.map((x) => x.run)),
    torchAll: t.map((x) => ({ policy: x.policy, ips: x.run.images_per_s })),
    load: loads,
  };
  rows.push(row);
  process.stdout.write(
    `${c.model} b${c.batch} ${c.method}: ours ${row.ours.images_per_s.toFixed(1)} img/s (${row.ours.peak_rss_mb.toFixed(0)} MB)` +
      (row.compiled ? `, compiled ${row.compiled.images_per_s.toFixed(1)} (${row.compiled.peak_rss_mb.toFixed(0)} MB)` : '') +
      (row.bf16 ? `, compiled bf16 ${row.bf16.images_per_s.toFixed(1)} (${row.bf16.peak_rss_mb.toFixed(0)} MB)` : '') +
      (row.before ? `, before ${row.before.images_per_s.toFixed(1)} (${row.before.peak_rss_mb.toFixed(0)} MB)` : '') +
      `, PyTorch ${row.torch.images_per_s.toFixed(1)} (${row.torch.peak_rss_mb.toFixed(0)} MB) [${row.torchAll.map((x) => `${x.policy} ${x.ips.toFixed(1)}`).join(', ')}], load ${loads.join(' ')}\n`,
  );
}

const cpu = (() => {
  try {
    return execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const f1 = (v: number) => v.toFixed(1);
const f0 = (v: number) => v.toFixed(0);
const ceOf = (model: string) => rows.find((r) => r.c.model === model && r.c.method === 'ce');
const table = [
  `## Training step, ours vs PyTorch (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${quick ? ', quick run' : ''})`,
  '',
  `\`npx tsx bench/native/train-step.ts${args.length ? ' ' + args.join(' ') : ''}\`. CPU: ${cpu}, ${os.cpus().length} cores (load averages below: about 2 is this job's own two threads);`,
  `${threads} intra-op threads each; ours: TensorFlow.js on libtensorflow ${rows[0]?.ours.tf}; anchor: PyTorch ${rows[0]?.torch.torch} (bench/.venv-torch).`,
  'Random inputs; SGD momentum 0.9, weight decay 2e-4; images/s of batch A after warm-up. ICCL: batch A and the interpolated batch through',
  'the network together (2B images), projection head, ICC loss, interpolated CE, centroid EMA. Best of ' +
    `${repeat} alternating round(s) for ResNet-32, one for ResNet-50; PyTorch best of its default and OMP_WAIT_POLICY=PASSIVE runs`,
  "(both for every row). Peak RSS: each process's own maximum (PyTorch's includes ~0.5 GB of CUDA-build libraries resident after import).",
  '"Compiled": engine `compiled` (issue 23), the same step traced once and run as one libtensorflow graph per step (ICCL: its lambdas fed each step, the centroid EMA in JavaScript);',
  '"bf16" (cross-entropy rows): the compiled step with precision bf16 (convolutions and matrix products in bfloat16, float32 weights, optimizer state and loss).',
  '"Before": our cross-entropy step with tfjs\'s tape walk and composite gradients and oneDNN off (the switchable part of the old path).',
  '',
  '| network | batch | step | ours img/s | PyTorch img/s | ratio | compiled img/s | compiled ratio | bf16 img/s | bf16 ratio | peak RSS ours MB | peak RSS PyTorch MB | RSS ratio | compiled RSS MB | before img/s | before RSS MB | load avg (1 min) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.c.model} | ${r.c.batch} | ${r.c.method} | ${f1(r.ours.images_per_s)} | ${f1(r.torch.images_per_s)} | ${(r.ours.images_per_s / r.torch.images_per_s).toFixed(2)} | ${r.compiled ? f1(r.compiled.images_per_s) : '-'} | ${r.compiled ? (r.compiled.images_per_s / r.torch.images_per_s).toFixed(2) : '-'} | ${r.bf16 ? f1(r.bf16.images_per_s) : '-'} | ${r.bf16 ? (r.bf16.images_per_s / r.torch.images_per_s).toFixed(2) : '-'} | ${f0(r.ours.peak_rss_mb)} | ${f0(r.torch.peak_rss_mb)} | ${(r.ours.peak_rss_mb / r.torch.peak_rss_mb).toFixed(2)} | ${r.compiled ? f0(r.compiled.peak_rss_mb) : '-'} | ${r.before ? f1(r.before.images_per_s) : '-'} | ${r.before ? f0(r.before.peak_rss_mb) : '-'} | ${r.load.join(' / ')} |`,
  ),
  '',
  'ICCL step / cross-entropy step (ms per step, same network and batch B):',
  '',
  '| network | ours ICCL/CE eager | ours ICCL/CE compiled | PyTorch ICCL/CE |',
  '|---|---|---|---|',
  ...rows
    .filter((r) => r.c.method === 'iccl' && ceOf(r.c.model))
    .map((r) => {
      const ce = ceOf(r.c.model)!;
      const compiled = r.compiled && ce.compiled ? (r.compiled.ms_per_step / ce.compiled.ms_per_step).toFixed(2) : '-';
      return `| ${r.c.model} | ${(r.ours.ms_per_step / ce.ours.ms_per_step).toFixed(2)} | ${compiled} | ${(r.torch.ms_per_step / ce.torch.ms_per_step).toFixed(2)} |`;
    }),
  '',
  'PyTorch runs by wait policy (img/s): ' + rows.map((r) => `${r.c.model} ${r.c.method}: ${r.torchAll.map((x) => `${x.policy} ${f1(x.ips)}`).join(', ')}`).join('; ') + '.',
  '',
].join('\n');
const out = path.join(__dirname, '../results', only ? `native-${only}.md` : 'native.md');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, table);
process.stdout.write(table);
