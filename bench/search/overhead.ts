/**
 * Sampler overhead: median latency of one ask + 8 suggestFloat + tell under TPE (multivariate and
 * independent) in a study that already holds 1,000 finished trials, ours vs Optuna 5 (in-memory
 * storage on both sides), measured in the same job.
 *
 *   npx tsx bench/search/overhead.ts [--finished 1000] [--repeats 30]
 *
 * Writes bench/search/out/overhead.json and prints a markdown table.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createStudy, InMemoryStorage, loadStudy, NopPruner, RandomSampler, TPESampler } from '../../search/src';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = process.env.BENCH_PYTHON ?? path.join(ROOT, '.venv/bin/python');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(): Promise<void> {
  const nFinished = Number(arg('finished', '1000'));
  const repeats = Number(arg('repeats', '30'));
  const names = Array.from({ length: 8 }, (_, i) => `p${i}`);
  const storage = new InMemoryStorage();
  const filler = await createStudy({ storage, studyName: 'ovh', sampler: new RandomSampler(0), pruner: new NopPruner() });
  await filler.optimize(async (t) => {
    let s = 0;
    for (const n of names) s += ((await t.suggestFloat(n, -5, 5)) - 1) ** 2;
    return s;
  }, { nTrials: nFinished });

  const ours: Record<string, number> = {};
  for (const [mode, multivariate] of [['multivariate', true], ['independent', false]] as const) {
    const study = await loadStudy({ storage, studyName: 'ovh', sampler: new TPESampler({ seed: 1, multivariate }), pruner: new NopPruner() });
    const lat: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const tr = await study.ask();
      let v = 0;
      for (const n of names) v += ((await tr.suggestFloat(n, -5, 5)) - 1) ** 2;
      await study.tell(tr, v);
      lat.push(performance.now() - t0);
    }
    ours[mode] = median(lat);
  }
  const optuna = JSON.parse(
    execFileSync(PYTHON, [path.join(__dirname, 'optuna_runner.py')], {
      input: JSON.stringify({ kind: 'overhead', n_finished: nFinished, repeats }),
      encoding: 'utf8',
    }),
  ) as Record<string, { median_ms: number }>;

  const lines = [
    `ask + 8 suggestFloat + tell, TPE defaults, ${nFinished} finished trials, median of ${repeats}, in-memory storage:`,
    '',
    '| TPE mode | ours (ms) | Optuna 5 (ms) | Optuna / ours |',
    '|---|---|---|---|',
  ];
  for (const mode of ['multivariate', 'independent']) {
    const o = optuna[mode].median_ms;
    lines.push(`| ${mode} | ${ours[mode].toFixed(1)} | ${o.toFixed(1)} | ${(o / ours[mode]).toFixed(2)}x |`);
  }
  fs.mkdirSync(path.join(__dirname, 'out'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'out/overhead.json'), JSON.stringify({ nFinished, repeats, ours, optuna }, null, 1));
  fs.writeFileSync(path.join(__dirname, 'out/overhead.md'), lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
