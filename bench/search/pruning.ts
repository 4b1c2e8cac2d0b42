/**
 * Pruning benchmark: asynchronous successive halving against the same search without pruning, on a
 * trainer with learning curves. The "trainer" is synthetic (no TensorFlow): a configuration (x, y, rate)
 * has a final loss 1 + (x-1)^2 + (y+2)^2 and a curve that approaches it as 10*exp(-rate*epoch), with
 * seeded noise, over 27 epochs — fast learners look good early, slow ones catch up late, which is the
 * case successive halving must get right. Each search: TPE (seeded), 60 trials.
 *
 *   npx tsx bench/search/pruning.ts [--seeds 10] [--trials 60]
 *
 * Prints, per seed and averaged: best final loss with and without pruning (ratio) and the epochs trained.
 * Target (issue 6): best within 1% of the unpruned search at no more than a third of its epochs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createStudy, InMemoryStorage, NopPruner, SuccessiveHalvingPruner, TPESampler, TrialPruned, type Pruner, type Trial } from '@iccl/search';

const args = process.argv.slice(2);
const num = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const SEEDS = num('--seeds', 10);
const TRIALS = num('--trials', 60);
const EPOCHS = 27;

function noise(seed: number, i: number): number {
  let h = (seed * 0x9e3779b1 + i * 0x85ebca77) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  return (h >>> 0) / 2 ** 32 - 0.5;
}

async function search(seed: number, pruner: Pruner): Promise<{ best: number; epochs: number }> {
  const study = await createStudy({ storage: new InMemoryStorage(), studyName: `p${seed}`, direction: 'minimize', sampler: new TPESampler({ seed }), pruner });
  let epochs = 0;
  await study.optimize(
    async (trial: Trial) => {
      const x = await trial.suggestFloat('x', -5, 5);
      const y = await trial.suggestFloat('y', -5, 5);
      const rate = await trial.suggestFloat('rate', 0.05, 1, { log: true });
      const final = 1 + (x - 1) ** 2 + (y + 2) ** 2;
      let v = Number.NaN;
      for (let e = 1; e <= EPOCHS; e++) {
        epochs++;
        v = final + 10 * Math.exp(-rate * e) + 0.05 * noise(seed * 1000 + trial.number, e);
        await trial.report(e, v);
        if (await trial.shouldPrune()) throw new TrialPruned(e, v);
      }
      return final; // the converged loss, so both searches are judged on the same quantity
    },
    { nTrials: TRIALS },
  );
  return { best: await study.bestValue(), epochs };
}

async function main(): Promise<void> {
  const rows: string[] = [];
  let sumRatio = 0;
  let sumEpochRatio = 0;
  for (let s = 0; s < SEEDS; s++) {
    const a = await search(s, new NopPruner());
    const b = await search(s, new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 }));
    sumRatio += b.best / a.best;
    sumEpochRatio += b.epochs / a.epochs;
    rows.push(`| ${s} | ${a.best.toFixed(4)} | ${b.best.toFixed(4)} | ${(b.best / a.best).toFixed(3)} | ${a.epochs} | ${b.epochs} | ${(b.epochs / a.epochs).toFixed(2)} |`);
    process.stdout.write(rows[rows.length - 1] + '\n');
  }
  const table = [
    `## Pruning: asynchronous successive halving vs no pruning (${new Date().toISOString().slice(0, 10)})`,
    '',
    `\`npx tsx bench/search/pruning.ts --seeds ${SEEDS} --trials ${TRIALS}\`: TPE (seeded), ${TRIALS} trials, synthetic learning curves over ${EPOCHS} epochs`,
    '(final loss 1 + (x-1)^2 + (y+2)^2, approached as 10*exp(-rate*epoch), rate searched in [0.05, 1] log). ASHA: min resource 1, reduction factor 3.',
    'Both searches are judged on the converged loss of their best complete trial. No Optuna run here: this checks our pruner against our own unpruned search.',
    '',
    '| seed | best, no pruning | best, ASHA | ratio | epochs, no pruning | epochs, ASHA | epoch ratio |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Mean best ratio ASHA / unpruned: ${(sumRatio / SEEDS).toFixed(3)}; mean epoch ratio: ${(sumEpochRatio / SEEDS).toFixed(2)}. Target: best within 1% (ratio <= 1.01) at <= 0.33 of the epochs.`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(__dirname, '../results/search-pruning.md'), table);
  process.stdout.write(table);
}

main().catch((e) => {
  process.stderr.write(String(e) + '\n');
  process.exit(1);
});
