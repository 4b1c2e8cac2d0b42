/** What the chaos table and the soak share: the process table, PostgreSQL, the study's trials. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { journalTrials, ROOT, type JournalTrial } from '../../e2e/tests/support/fault-judge';

/** The demo space's intermediate metric: the points a trial reports, which the judge looks for in MLflow. */
export function demoMetric(): string {
  const space = JSON.parse(fs.readFileSync(path.join(ROOT, 'search-spaces/demo.json'), 'utf8')) as { intermediateMetric?: string };
  if (!space.intermediateMetric) throw new Error('search-spaces/demo.json: no intermediateMetric');
  return space.intermediateMetric;
}

/** Processes carrying this marker in their environment (ICCL_CHAOS_CASE: trial processes, local servers). */
export function marked(marker: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`ICCL_CHAOS_CASE=${marker}`)) out.push(Number(p));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

export function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The newest trial process under a driver, if one is running. */
export function latestTrialChild(driverPid: number): number | undefined {
  const kids = childrenOf(driverPid).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('trial-child');
    } catch {
      return false;
    }
  });
  return kids[kids.length - 1];
}

/** A PostgreSQL server of our own under a temporary folder (tools/pg), restartable, stopped by `stop`. */
export class Postgres {
  private constructor(
    readonly dir: string,
    readonly url: string,
  ) {}

  static start(): Postgres {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-chaos-pg-'));
    const url = execFileSync('bash', [path.join(ROOT, 'tools/pg/start.sh'), dir], { encoding: 'utf8' }).trim().split('\n').pop()!;
    return new Postgres(dir, url);
  }

  private static bin(): string {
    return `/usr/lib/postgresql/${fs.readdirSync('/usr/lib/postgresql').sort().pop()}/bin`;
  }

  restart(): void {
    execFileSync('runuser', ['-u', 'postgres', '--', `${Postgres.bin()}/pg_ctl`, '-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', 'restart'], { stdio: 'ignore' });
  }

  stop(): void {
    execFileSync('bash', [path.join(ROOT, 'tools/pg/stop.sh'), this.dir], { stdio: 'ignore' });
  }

  /** The study's trials as PostgreSQL's rows (psql), in the journal reader's shape. */
  trials(study: string): JournalTrial[] {
    const sql =
      `SELECT coalesce(json_agg(json_build_object('number', t.number, 'state', t.state, 'system_attrs', t.system_attrs, 'params', t.params, ` +
      `'intermediate', (SELECT coalesce(json_object_agg(v.step, v.value), '{}') FROM iccl_trial_values v WHERE v.trial_id = t.trial_id))), '[]') ` +
      `FROM iccl_trials t JOIN iccl_studies s USING (study_id) WHERE s.study_name = '${study.replace(/'/g, "''")}'`;
    const out = execFileSync(`${Postgres.bin()}/psql`, [this.url, '-At', '-c', sql], { encoding: 'utf8' });
    return (JSON.parse(out) as (Omit<JournalTrial, 'state'> & { state: number })[]).map((t) => ({ ...t, state: STATES[t.state] ?? String(t.state) }));
  }
}

const STATES = ['RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING'];

/** The study's trials: a journal through the real optuna, PostgreSQL as its rows. */
export function trialsOf(storage: string, study: string, pg: Postgres | null): JournalTrial[] {
  if (storage.startsWith('journal:')) return journalTrials(storage.slice(8));
  if (!pg) throw new Error(`trialsOf: ${storage} needs the Postgres it runs on`);
  return pg.trials(study);
}

/** Complete trials beyond the budget, plus complete trials sharing one parameter set. */
export function duplicatedTrials(trials: JournalTrial[], budget: number): number {
  const complete = trials.filter((t) => t.state === 'COMPLETE');
  const keys = complete.map((t) => JSON.stringify(t.params));
  return Math.max(0, complete.length - budget) + (keys.length - new Set(keys).size);
}
