/**
 * Sample efficiency: our TPESampler against Optuna 5's TPESampler with equal settings (defaults,
 * independent and multivariate), plus both random samplers as the floor, on Branin, Hartmann-6,
 * Rosenbrock-4D, Ackley-5D and a mixed log/int/step/categorical hyperparameter-shaped function.
 * Best value after each checkpoint, over seeds: mean and standard deviation. Optuna runs in the
 * same job through the pinned venv's python.
 *
 *   npx tsx bench/search/efficiency.ts [--seeds 20] [--trials 50,100] [--functions branin,...]
 *   npx tsx bench/search/efficiency.ts --report-only   (re-renders the table from out/efficiency.json)
 *
 * Writes bench/search/out/efficiency.json (raw) and prints a markdown table.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createStudy, NopPruner, RandomSampler, TPESampler, type Sampler } from '../../search/src';
import { FUNCTIONS } from './functions';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = process.env.BENCH_PYTHON ?? path.join(ROOT, '.venv/bin/python');
const RUNNER = path.join(__dirname, 'optuna_runner.py');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

interface RunResult {
  fn: string;
  seed: number;
  best: Record<string, number>;
  seconds: number;
}

function python<T>(job: unknown): T {
  return JSON.parse(execFileSync(PYTHON, [RUNNER], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 256 << 20 })) as T;
}

async function ours(kind: 'tpe' | 'random', multivariate: boolean, fns: string[], seeds: number[], checkpoints: number[]): Promise<RunResult[]> {
  const out: RunResult[] = [];
  for (const f of FUNCTIONS.filter((x) => fns.includes(x.name))) {
    for (const seed of seeds) {
      const sampler: Sampler = kind === 'tpe' ? new TPESampler({ seed, multivariate }) : new RandomSampler(seed);
      const study = await createStudy({ sampler, pruner: new NopPruner() });
      const t0 = performance.now();
      await study.optimize(f.objective, { nTrials: Math.max(...checkpoints) });
      const seconds = (performance.now() - t0) / 1000;
      const vals = (await study.getTrials()).map((t) => (t.values as number[])[0]);
      const best: Record<string, number> = {};
      for (const c of checkpoints) best[String(c)] = Math.min(...vals.slice(0, c));
      out.push({ fn: f.name, seed, best, seconds });
    }
  }
  return out;
}

function stats(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { mean, sd };
}

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3));

async function main(): Promise<void> {
  const nSeeds = Number(arg('seeds', '20'));
  const checkpoints = arg('trials', '50,100').split(',').map(Number);
  const fns = arg('functions', FUNCTIONS.map((f) => f.name).join(',')).split(',');
  const seeds = Array.from({ length: nSeeds }, (_, i) => i);

  // The two languages must compute the same functions.
  for (const f of FUNCTIONS.filter((x) => fns.includes(x.name))) {
    const pts: Record<string, number | string>[] = [
      { x0: 0.1, x1: 0.7, x2: 0.3, x3: 0.9, x4: 0.5, x5: 0.2, lr: 1e-3, weight_decay: 3e-5, batch_size: 64, dropout: 0.35, layers: 2, optimizer: 'adam' },
      { x0: 0.6, x1: 0.2, x2: 0.8, x3: 0.1, x4: 0.4, x5: 0.9, lr: 0.05, weight_decay: 1e-3, batch_size: 300, dropout: 0, layers: 6, optimizer: 'sgd' },
    ];
    const ref = python<number[]>({ kind: 'check', fn: f.name, points: pts });
    pts.forEach((p, i) => {
      const v = f.evaluate(p);
      if (Math.abs(v - ref[i]) > 1e-9 * Math.max(1, Math.abs(v))) throw new Error(`${f.name}: TS ${v} != python ${ref[i]}`);
    });
  }

  const configs: { label: string; run: () => Promise<RunResult[]> | RunResult[] }[] = [
    { label: 'ours TPE independent', run: () => ours('tpe', false, fns, seeds, checkpoints) },
    { label: 'Optuna TPE independent', run: () => python({ kind: 'efficiency', sampler: 'tpe', multivariate: false, functions: fns, seeds, checkpoints }) },
    { label: 'ours TPE multivariate', run: () => ours('tpe', true, fns, seeds, checkpoints) },
    { label: 'Optuna TPE multivariate', run: () => python({ kind: 'efficiency', sampler: 'tpe', multivariate: true, functions: fns, seeds, checkpoints }) },
    { label: 'ours random', run: () => ours('random', false, fns, seeds, checkpoints) },
    { label: 'Optuna random', run: () => python({ kind: 'efficiency', sampler: 'random', multivariate: false, functions: fns, seeds, checkpoints }) },
  ];
  let results: Record<string, RunResult[]> = {};
  if (process.argv.includes('--report-only')) {
    results = (JSON.parse(fs.readFileSync(path.join(__dirname, 'out/efficiency.json'), 'utf8')) as { results: Record<string, RunResult[]> }).results;
  } else {
    for (const c of configs) {
      const t0 = Date.now();
      results[c.label] = await c.run();
      process.stderr.write(`${c.label}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    fs.mkdirSync(path.join(__dirname, 'out'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'out/efficiency.json'), JSON.stringify({ seeds: nSeeds, checkpoints, results }, null, 1));
  }

  const lines: string[] = [];
  lines.push(`Best value found (mean ± sd over ${nSeeds} seeds; lower is better). Known optima: ${FUNCTIONS.filter((f) => fns.includes(f.name)).map((f) => `${f.name} ${f.optimum}`).join(', ')}.`);
  lines.push('');
  lines.push(`| function | sampler | ${checkpoints.map((c) => `after ${c}`).join(' | ')} | s/run |`);
  lines.push(`|---|---|${checkpoints.map(() => '---').join('|')}|---|`);
  for (const fn of fns) {
    for (const c of configs) {
      const rs = results[c.label].filter((r) => r.fn === fn);
      const cells = checkpoints.map((k) => {
        const s = stats(rs.map((r) => r.best[String(k)]));
        return `${fmt(s.mean)} ± ${fmt(s.sd)}`;
      });
      lines.push(`| ${fn} | ${c.label} | ${cells.join(' | ')} | ${stats(rs.map((r) => r.seconds)).mean.toFixed(2)} |`);
    }
  }
  // Head-to-head: on how many seeds ours is at least as good as Optuna at the last checkpoint.
  lines.push('');
  lines.push(`Ratio of means ours/Optuna at ${Math.max(...checkpoints)} trials (regret to the known optimum; < 1 means ours is closer):`);
  lines.push('');
  lines.push('| function | independent | multivariate |');
  lines.push('|---|---|---|');
  const last = String(Math.max(...checkpoints));
  for (const fn of fns) {
    const opt = FUNCTIONS.find((f) => f.name === fn)!.optimum;
    const regret = (label: string): number => stats(results[label].filter((r) => r.fn === fn).map((r) => r.best[last] - opt)).mean;
    lines.push(`| ${fn} | ${(regret('ours TPE independent') / regret('Optuna TPE independent')).toFixed(2)} | ${(regret('ours TPE multivariate') / regret('Optuna TPE multivariate')).toFixed(2)} |`);
  }
  // Is the gap between ours and Optuna larger than seed noise? Welch's t on the best values.
  lines.push('');
  lines.push(`Welch's t of (ours - Optuna) best values (|t| > 2 would suggest a real difference; negative = ours better):`);
  lines.push('');
  lines.push(`| function | ${checkpoints.map((c) => `indep. @${c}`).join(' | ')} | ${checkpoints.map((c) => `multiv. @${c}`).join(' | ')} |`);
  lines.push(`|---|${checkpoints.map(() => '---').join('|')}|${checkpoints.map(() => '---').join('|')}|`);
  for (const fn of fns) {
    const cell = (mode: string, c: number): string => {
      const a = results[`ours TPE ${mode}`].filter((r) => r.fn === fn).map((r) => r.best[String(c)]);
      const b = results[`Optuna TPE ${mode}`].filter((r) => r.fn === fn).map((r) => r.best[String(c)]);
      const sa = stats(a);
      const sb = stats(b);
      return ((sa.mean - sb.mean) / Math.sqrt(sa.sd ** 2 / a.length + sb.sd ** 2 / b.length)).toFixed(2);
    };
    lines.push(`| ${fn} | ${checkpoints.map((c) => cell('independent', c)).join(' | ')} | ${checkpoints.map((c) => cell('multivariate', c)).join(' | ')} |`);
  }
  const md = lines.join('\n');
  fs.writeFileSync(path.join(__dirname, 'out/efficiency.md'), md + '\n');
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
