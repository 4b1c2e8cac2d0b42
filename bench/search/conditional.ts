/**
 * Conditional search space: a categorical "kind" chooses one of two 3-parameter branches (branch b
 * holds the optimum 0, branch a bottoms out at 0.5). Multivariate TPE with and without `group`
 * (joint models per always-together parameter group), ours vs Optuna 5, best value after N trials.
 *
 *   npx tsx bench/search/conditional.ts [--seeds 10] [--trials 100]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createStudy, NopPruner, TPESampler, type Trial } from '../../search/src';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = process.env.BENCH_PYTHON ?? path.join(ROOT, '.venv/bin/python');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function objective(t: Trial): Promise<number> {
  const kind = await t.suggestCategorical('kind', ['a', 'b']);
  let s = 0;
  if (kind === 'a') {
    for (let i = 0; i < 3; i++) s += ((await t.suggestFloat(`a${i}`, -5, 5)) - 1) ** 2;
    return s + 0.5;
  }
  for (let i = 0; i < 3; i++) s += ((await t.suggestFloat(`b${i}`, -5, 5)) + 0.5 * i) ** 2;
  return s;
}

const meanSd = (xs: number[]): string => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${m.toPrecision(3)} ± ${sd.toPrecision(3)}`;
};

async function main(): Promise<void> {
  const seeds = Array.from({ length: Number(arg('seeds', '10')) }, (_, i) => i);
  const trials = Number(arg('trials', '100'));
  const rows: string[] = [];
  const raw: Record<string, { ours: number[]; optuna: number[] }> = {};
  for (const group of [false, true]) {
    const ours: number[] = [];
    for (const seed of seeds) {
      const study = await createStudy({ sampler: new TPESampler({ seed, multivariate: true, group }), pruner: new NopPruner() });
      await study.optimize(objective, { nTrials: trials });
      ours.push(await study.bestValue());
    }
    const job = { kind: 'conditional', group, seeds, trials };
    const optuna = JSON.parse(execFileSync(PYTHON, [path.join(__dirname, 'optuna_runner.py')], { input: JSON.stringify(job), encoding: 'utf8' })) as number[];
    raw[`group=${group}`] = { ours, optuna };
    rows.push(`| multivariate, group=${group} | ${meanSd(ours)} | ${meanSd(optuna)} |`);
  }
  const lines = [
    `Best value after ${trials} trials (optimum 0; lower is better), mean ± sd over ${seeds.length} seeds:`,
    '',
    '| TPE | ours | Optuna 5 |',
    '|---|---|---|',
    ...rows,
  ];
  fs.mkdirSync(path.join(__dirname, 'out'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'out/conditional.json'), JSON.stringify({ trials, raw }, null, 1));
  fs.writeFileSync(path.join(__dirname, 'out/conditional.md'), lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
