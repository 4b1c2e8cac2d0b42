/** The `slurm` command of iccl-search: `slurm [submit] ...` (the default) and `slurm status`. */
import { Command } from 'commander';
import { cmdSlurmStatus } from './slurm-status';
import { cmdSlurmSubmit, type SlurmSubmitOpts } from './slurm-submit';
import { openStorage } from './factories';

const collect = (v: string, prev: string[]) => [...prev, v];

function count(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: got "${v}", expected an integer >= ${min}`);
    return n;
  };
}

export function addSlurmCommands(program: Command, setCode: (c: number) => void): void {
  const slurm = program.command('slurm').description('Run a study as a Slurm job array of drivers on one PostgreSQL study (submit, status)');
  slurm
    .command('submit', { isDefault: true })
    .description('Write runs/<study>/slurm/<study>.sbatch (a job array of drivers) and submit it with sbatch')
    .requiredOption('--space <file>', 'search-space file, or a name in search-spaces/')
    .requiredOption('--storage <url>', 'postgresql://USER@HOST:PORT/DB that every task reaches')
    .requiredOption('--array <n>', 'tasks in the array (drivers)', count('--array', 1))
    .option('-c, --configuration <name>', 'a configuration of the space')
    .option('--study <name>', 'study name (default: the space name, plus -<configuration>)')
    .option('--max-running <n>', 'at most this many tasks at once (--array=0-N%K)', count('--max-running', 1))
    .option('--gpus-per-task <n>', 'GPUs per task, one trial on each (0: trials on the CPU, one per task)', count('--gpus-per-task', 0), 1)
    .option('--trials-per-gpu <n>', 'trials sharing one GPU', count('--trials-per-gpu', 1))
    .option('--cpus-per-task <n>', 'CPUs per task (image decoding is shared out over them)', count('--cpus-per-task', 1))
    .option('--mem <size>', 'memory per task, as sbatch takes it (e.g. 32G)')
    .option('--partition <name>', 'Slurm partition')
    .option('--time <limit>', 'wall time per task, as sbatch takes it (e.g. 24:00:00)')
    .option('--no-requeue', 'do not requeue a task Slurm preempts (default: requeue)')
    .option('--sbatch-arg <arg>', 'one more #SBATCH line, e.g. --sbatch-arg=--account=lab (repeatable)', collect, [])
    .option('--trials <n>', 'trials the study should hold in the end', count('--trials', 1))
    .option('--retries <n>', 'retries of a trial lost to a crash or a dead worker', count('--retries', 0))
    .option('--trial-timeout <s>', 'seconds a trial may run', count('--trial-timeout', 1))
    .option('--heartbeat <s>', 'seconds between heartbeats (a task silent for 4x this is taken as dead)', count('--heartbeat', 1))
    .option('--sampler <spec>', 'sampler (as for run)')
    .option('--pruner <spec>', 'pruner (as for run)')
    .option('--tracking <spec>', 'mlflow:URI of one server for all tasks (or MLFLOW_TRACKING_URI), jsonl:DIR, tensorboard:DIR or none', process.env.ICCL_TRACKING ?? 'mlflow')
    .option('--set <key=value>', 'pin a parameter (repeatable)', collect, [])
    .option('--data-dir <dir>', 'folder holding the data set (the same path on every node)')
    .option('--runs-dir <dir>', 'trial work dirs and the script go to <dir>/<study>/ (a folder every node sees)', 'runs')
    .option('--wait-for-others <s>', 'a task with nothing left to claim looks at the others\' trials every S seconds', count('--wait-for-others', 1), 10)
    .option('--dry-run', 'write and print the script, do not submit it')
    .action((o: SlurmSubmitOpts) => setCode(cmdSlurmSubmit(o)));
  slurm
    .command('status')
    .description("The study's Slurm tasks (scontrol/sacct) next to the trials each ran")
    .requiredOption('--study <name>', 'study name')
    .requiredOption('--storage <url>', 'postgresql://...')
    .option('--runs-dir <dir>', 'where `slurm` kept the script (<dir>/<study>/slurm)', 'runs')
    .action(async (o: { study: string; storage: string; runsDir: string }) => {
      const storage = openStorage(o.storage);
      try {
        setCode(await cmdSlurmStatus(o, storage));
      } finally {
        await storage.close();
      }
    });
}
