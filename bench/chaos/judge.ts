/**
 * The end state of a study after a fault, judged from outside (MLflow over REST, the journal through
 * the real optuna), as one JSON object:
 *   npx tsx bench/chaos/judge.ts --tracking-uri URI --study NAME --journal FILE --spool DIR [--metric loss]
 */
import { MlflowClient } from '@iccl/mlflow';
import { endState } from '../../e2e/tests/support/fault-judge';

const argv = process.argv.slice(2);
const opt = (name: string, d?: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : d);

async function main(): Promise<number> {
  const uri = opt('--tracking-uri', process.env.MLFLOW_TRACKING_URI);
  const study = opt('--study');
  const journal = opt('--journal');
  const spool = opt('--spool');
  if (!uri || !study || !journal || !spool) {
    process.stderr.write('judge: --tracking-uri URI --study NAME --journal FILE --spool DIR are required\n');
    return 2;
  }
  const s = await endState({ client: new MlflowClient({ trackingUri: uri, credentials: {} }), experiment: study, journal, spoolDir: spool, metric: opt('--metric', 'loss')! });
  process.stdout.write(JSON.stringify(s, null, 1) + '\n');
  return 0;
}

void main().then((c) => process.exit(c));
