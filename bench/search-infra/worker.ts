// One worker process of the storage benchmark: runs `n` trivial trials (x ~ U(-10, 10), value x^2)
// on a shared study with the random sampler, and prints the numbers of the trials it finished.
import { loadStudy, NopPruner, openStorage, RandomSampler, type FrozenTrial } from '../../search/src';

async function main(): Promise<void> {
  const [spec, studyName, n] = process.argv.slice(2);
  const storage = openStorage(spec);
  const study = await loadStudy({ storage, studyName, sampler: new RandomSampler(), pruner: new NopPruner() });
  const mine: number[] = [];
  await study.optimize(async (t) => (await t.suggestFloat('x', -10, 10)) ** 2, {
    nTrials: Number(n),
    callbacks: [(_s, t: FrozenTrial) => void mine.push(t.number)],
  });
  await storage.close();
  process.stdout.write(JSON.stringify(mine));
}
main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
