/**
 * The parts of `iccl-search slurm` that need no cluster: the script it writes for GPU tasks, what it
 * refuses, and how status reads scontrol's and sacct's answers (the real cluster: slurm-array.test.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cmdSlurmSubmit, driverCommand, type SlurmSubmitOpts } from '../src/driver/slurm-submit';
import { formatSlurmStatus, parseSacct, parseScontrol } from '../src/driver/slurm-status';
import { renderSbatchScript, shellQuote } from '../src/driver/slurm-script';
import { ATTR } from '../src/driver/attrs';
import { TrialState, type FrozenTrial } from '../src/study/trial-types';
import { REPO, tmpDir } from './helpers';

function opts(runsDir: string, extra: Partial<SlurmSubmitOpts> = {}): SlurmSubmitOpts {
  return {
    space: 'toy', storage: 'postgresql://me:secret@db:5432/studies', array: 8, gpusPerTask: 2, cpusPerTask: 16, requeue: true,
    sbatchArg: ['--account=lab'], tracking: 'mlflow:http://mlflow:5000', set: ['epochs=3'], runsDir, waitForOthers: 10, dryRun: true, ...extra,
  };
}

describe('iccl-search slurm: the script', () => {
  it('--dry-run prints the script it keeps in runs/<study>/slurm/ (owner-only: it holds the storage URL)', () => {
    const runs = path.join(tmpDir('slurm-script'), 'runs');
    let printed = '';
    const cli = path.join(REPO, 'search/src/driver/cli.ts');
    expect(cmdSlurmSubmit(opts(runs), (s) => (printed += s), driverCommand(cli))).toBe(0);
    const file = path.join(runs, 'toy/slurm/toy.sbatch');
    expect(fs.readFileSync(file, 'utf8')).toBe(printed);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const sbatch = printed.split('\n').filter((l) => l.startsWith('#SBATCH'));
    expect(sbatch).toEqual([
      '#SBATCH --job-name=iccl-toy', '#SBATCH --array=0-7', '#SBATCH --ntasks=1', '#SBATCH --gres=gpu:2', '#SBATCH --cpus-per-task=16', '#SBATCH --requeue',
      `#SBATCH --output=${runs}/toy/slurm/logs/%A_%a.out`, `#SBATCH --chdir=${process.cwd()}`, '#SBATCH --account=lab',
    ]);
    // The password only where the drivers need it, not in the comments.
    expect(printed.split('\n').filter((l) => l.includes('secret'))).toEqual(['  --storage postgresql://me:secret@db:5432/studies \\']);
    expect(printed).toContain('for study "toy" in postgresql://me:***@db:5432/studies');
    // Two GPUs, one trial each; 16 CPUs shared by the two trials' image decoding.
    expect(printed).toContain('  --device gpu \\\n  --decode-workers 8 \\\n  --wait-for-others 10 \\\n  --no-report\n');
    // From the sources: tsx as loader, by absolute path, and the workspace's tsconfig, so any folder works.
    expect(printed).toContain(`\nexec ${process.execPath} --import file://${require.resolve('tsx', { paths: [REPO] })} ${cli} run \\\n`);
    expect(printed).toContain(`\nexport TSX_TSCONFIG_PATH=${REPO}/tsconfig.json\n`);
  });

  it('refuses what only one machine can see: a journal file, a local MLflow', () => {
    const runs = tmpDir('slurm-refuse');
    expect(() => cmdSlurmSubmit(opts(runs, { storage: 'journal:runs/x.journal' }))).toThrow('slurm: --storage must be postgresql://USER@HOST:PORT/DB (got "journal:runs/x.journal")');
    const before = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    try {
      expect(() => cmdSlurmSubmit(opts(runs, { tracking: 'mlflow' }))).toThrow('slurm: --tracking mlflow needs one server every task reaches');
    } finally {
      if (before !== undefined) process.env.MLFLOW_TRACKING_URI = before;
    }
  });

  it("the README shows the script the README's command writes (in a project at /home/me/my-project)", () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const shown = /The script it writes, in a project at\s+`\/home\/me\/my-project`:\n\n```bash\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown).toBeDefined();
    const project = '/home/me/my-project';
    const written = renderSbatchScript({
      studyName: 'inat18-a', storage: 'postgresql://iccl@DB_HOST:5432/iccl', array: 8, gpusPerTask: 1, cpusPerTask: 8, partition: 'gpu', time: '24:00:00',
      requeue: true, sbatchArgs: [], workDir: project, scriptFile: `${project}/runs/inat18-a/slurm/inat18-a.sbatch`, logDir: `${project}/runs/inat18-a/slurm/logs`,
      driver: ['/usr/bin/node', `${project}/node_modules/@iccl/search/dist/driver/cli.js`],
      runArgs: ['--space', 'inat18', '--study', 'inat18-a', '--tracking', 'mlflow', '--data-dir', '/data/inat2018', '--runs-dir', `${project}/runs`],
      waitForOthersSeconds: 10, env: { MLFLOW_TRACKING_URI: 'http://MLFLOW_HOST:5000' },
    });
    expect(shown).toBe(written);
    expect(readme).toContain('npx iccl-search slurm --space inat18 --data-dir /data/inat2018 --study inat18-a \\\n  --storage postgresql://iccl@DB_HOST:5432/iccl --array 8 --gpus-per-task 1 --cpus-per-task 8 \\\n  --partition gpu --time 24:00:00');
  });

  it('quotes for the shell only what needs it', () => {
    expect(shellQuote('--set')).toBe('--set');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });
});

describe('iccl-search slurm status', () => {
  const trial = (number: number, state: TrialState, task: string | null, extra: Record<string, unknown> = {}) =>
    ({ number, state, systemAttrs: { ...(task ? { [ATTR.slurmTask]: task } : {}), ...extra } }) as unknown as FrozenTrial;

  it('reads scontrol (array tasks, pending ranges) and sacct, and lists each task with the trials it ran', () => {
    const sc = parseScontrol(
      'JobId=12 ArrayJobId=11 ArrayTaskId=1 JobName=x JobState=CANCELLED Reason=None RunTime=00:00:05 NodeList=n1 BatchHost=n1\n' +
        'JobId=11 ArrayJobId=11 ArrayTaskId=2-3 JobState=PENDING RunTime=00:00:00 NodeList=(null)\n',
    );
    expect(sc).toEqual([
      { task: '11_1', state: 'CANCELLED', elapsed: '00:00:05', node: 'n1' },
      { task: '11_[2-3]', state: 'PENDING', elapsed: '00:00:00', node: '-' },
    ]);
    const sa = parseSacct('11_0|COMPLETED|00:01:00|n2\n11_4|CANCELLED by 0|00:00:02|n1\n');
    expect(sa).toEqual([
      { task: '11_0', state: 'COMPLETED', elapsed: '00:01:00', node: 'n2' },
      { task: '11_4', state: 'CANCELLED', elapsed: '00:00:02', node: 'n1' },
    ]);
    const text = formatSlurmStatus('s', [sa[0]!, sc[0]!], [
      trial(0, TrialState.COMPLETE, '11_0'),
      trial(1, TrialState.FAIL, '11_1'),
      trial(2, TrialState.COMPLETE, '11_0', { [ATTR.retriedFrom]: 1 }),
      trial(3, TrialState.WAITING, null),
    ]);
    expect(text.split('\n')).toEqual([
      'study "s": 4 trials (2 complete, 0 pruned, 1 failed, 0 running, 1 waiting)',
      'TASK      STATE      ELAPSED   NODE  TRIALS',
      '11_0      COMPLETED  00:01:00  n2    0:COMPLETE 2:COMPLETE',
      '11_1      CANCELLED  00:00:05  n1    1:FAIL->2',
      '(queued)  WAITING    -         -     3:WAITING',
      '',
    ]);
  });
});
