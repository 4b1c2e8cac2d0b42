/**
 * Multi-objective samplers: hypervolume of the Pareto front after N trials on a 3-variable,
 * 2-objective problem (f1 = |x|^2, f2 = |x - 1|^2, x in [-2, 3]^3, reference point (12, 12)), ours
 * vs Optuna 5 for NSGA-II (population 20) and MOTPE (TPE defaults with two objectives), random as
 * the floor. Optuna runs in the same job.
 *
 *   npx tsx bench/search/multiobjective.ts [--seeds 10] [--trials 120]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createStudy, hypervolume, NopPruner, NSGAIISampler, RandomSampler, TPESampler, type Sampler, type Trial } from '../../search/src';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = process.env.BENCH_PYTHON ?? path.join(ROOT, '.venv/bin/python');
const REF = [12, 12];
const POP = 20;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function objective(t: Trial): Promise<number[]> {
  const x: number[] = [];
  for (let i = 0; i < 3; i++) x.push(await t.suggestFloat(`x${i}`, -2, 3));
  return [x.reduce((s, v) => s + v * v, 0), x.reduce((s, v) => s + (v - 1) ** 2, 0)];
}

async function ours(kind: string, seeds: number[], trials: number): Promise<number[]> {
  const out: number[] = [];
  for (const seed of seeds) {
    const sampler: Sampler = kind === 'nsga2' ? new NSGAIISampler({ seed, populationSize: POP }) : kind === 'tpe' ? new TPESampler({ seed }) : new RandomSampler(seed);
    const study = await createStudy({ directions: ['minimize', 'minimize'], sampler, pruner: new NopPruner() });
    await study.optimize(objective, { nTrials: trials });
    out.push(hypervolume((await study.bestTrials()).map((t) => t.values as number[]), REF));
  }
  return out;
}

function theirs(kind: string, seeds: number[], trials: number): number[] {
  const job = { kind: 'multiobjective', sampler: kind, seeds, trials, population: POP, ref: REF };
  return JSON.parse(execFileSync(PYTHON, [path.join(__dirname, 'optuna_runner.py')], { input: JSON.stringify(job), encoding: 'utf8' })) as number[];
}

const meanSd = (xs: number[]): string => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${m.toFixed(2)} ± ${sd.toFixed(2)}`;
};

async function main(): Promise<void> {
  const seeds = Array.from({ length: Number(arg('seeds', '10')) }, (_, i) => i);
  const trials = Number(arg('trials', '120'));
  const rows: [string, number[], number[]][] = [];
  for (const kind of ['nsga2', 'tpe', 'random']) rows.push([kind, await ours(kind, seeds, trials), theirs(kind, seeds, trials)]);
  const lines = [
    `Hypervolume after ${trials} trials (ref ${JSON.stringify(REF)}; larger is better), mean ± sd over ${seeds.length} seeds:`,
    '',
    '| sampler | ours | Optuna 5 |',
    '|---|---|---|',
    ...rows.map(([k, a, b]) => `| ${k === 'nsga2' ? `NSGA-II (population ${POP})` : k === 'tpe' ? 'MOTPE (TPE, 2 objectives)' : 'random'} | ${meanSd(a)} | ${meanSd(b)} |`),
  ];
  fs.mkdirSync(path.join(__dirname, 'out'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'out/multiobjective.json'), JSON.stringify({ trials, seeds: seeds.length, rows }, null, 1));
  fs.writeFileSync(path.join(__dirname, 'out/multiobjective.md'), lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
