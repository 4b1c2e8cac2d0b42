import * as crypto from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { distributionFromJson, distributionToJson, toExternal, toInternal, type Distribution } from '../../study/distributions';
import { isFinished, TrialState, type FrozenStudy, type FrozenTrial, type StudyDirection } from '../../study/trial-types';
import { DuplicatedStudyError, StaleTrialError, StudyNotFoundError, type Storage } from '../base';
import { isConnectionError } from './connection-errors';
import { SCHEMA_SQL } from './schema';

type DistJson = ReturnType<typeof distributionToJson>;
interface ParamCell {
  v: number;
  d: DistJson;
}
interface TrialRow {
  trial_id: number;
  study_id: number;
  number: number;
  state: number;
  values: number[] | null;
  datetime_start: Date | null;
  datetime_complete: Date | null;
  params: Record<string, ParamCell>;
  user_attrs: Record<string, unknown>;
  system_attrs: Record<string, unknown>;
}

/** JSON for jsonb: non-finite numbers become null (jsonb has no NaN). */
const jsonb = (v: unknown): string => JSON.stringify(v === undefined ? null : v);
const LIVE = `state IN (${TrialState.RUNNING}, ${TrialState.WAITING})`;

export interface PostgresStorageOptions {
  /** Seconds an operation keeps retrying (with backoff) while the server is away. Default 120. */
  reconnectSeconds?: number;
  /** Where the lines about a lost and a regained connection go (default: stderr). */
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Storage in PostgreSQL, for studies whose workers run on several machines. Every method is one
 * statement or one transaction; claiming a WAITING trial is a conditional UPDATE (only one worker's
 * UPDATE matches), trial numbers come from a counter under the study row's lock, and RUNNING trials
 * carry a heartbeat written by their driver with the server's clock.
 *
 * A restart of the server or a dropped connection is waited out: each operation is retried with
 * backoff until it goes through. Retries do not repeat an effect: a trial's creation and a claim
 * carry a token, so an attempt whose commit went through before the connection dropped is found
 * again rather than done twice; the other writes are idempotent.
 */
export class PostgresStorage implements Storage {
  readonly pool: Pool;
  private ready: Promise<void> | null = null;
  private readonly reconnectMs: number;
  private readonly log: (line: string) => void;
  private lostSince: number | null = null;
  /** When the connection came back last (heartbeats are judged only after a full grace since). */
  private regainedAt = 0;

  constructor(
    readonly url: string,
    poolSize = 4,
    options: PostgresStorageOptions = {},
  ) {
    this.pool = new Pool({ connectionString: url, max: poolSize });
    // An idle client's connection error must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
    this.reconnectMs = (options.reconnectSeconds ?? 120) * 1000;
    this.log = options.log ?? ((line) => process.stderr.write(line + '\n'));
  }

  private get where(): string {
    return this.url.replace(/:[^:@/]*@/, ':***@');
  }

  /**
   * Runs `op` (attempt 1, 2, ...) until it is not cut off by a lost connection, waiting with
   * backoff, for at most reconnectSeconds; other errors go through at once.
   */
  private async reconnecting<T>(op: (attempt: number) => Promise<T>): Promise<T> {
    let delay = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await op(attempt);
        if (this.lostSince !== null) {
          this.log(`PostgreSQL storage: reconnected to ${this.where} after ${((Date.now() - this.lostSince) / 1000).toFixed(1)}s`);
          this.lostSince = null;
          this.regainedAt = Date.now();
        }
        return r;
      } catch (e) {
        if (!isConnectionError(e)) throw e;
        const now = Date.now();
        if (this.lostSince === null) {
          this.lostSince = now;
          this.log(`WARN: PostgreSQL storage: lost the connection to ${this.where} (${(e as Error).message}); retrying for up to ${this.reconnectMs / 1000}s`);
        }
        if (now - this.lostSince + delay > this.reconnectMs) {
          throw new Error(`PostgreSQL storage: no connection to ${this.where} for ${this.reconnectMs / 1000}s (${(e as Error).message})`);
        }
        await sleep(delay * (0.5 + Math.random()));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      const c = await this.pool.connect().catch((e: Error) => {
        throw new Error(`PostgreSQL storage: cannot connect to ${this.url.replace(/:[^:@/]*@/, ':***@')}: ${e.message}`);
      });
      try {
        await c.query('BEGIN');
        await c.query('SELECT pg_advisory_xact_lock(7151)'); // concurrent first runs: one creates the tables
        await c.query(SCHEMA_SQL);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK');
        throw e;
      } finally {
        c.release();
      }
    })();
    this.ready.catch(() => (this.ready = null));
    return this.ready;
  }

  private async q<R>(sql: string, args: unknown[] = []): Promise<R[]> {
    await this.init();
    return this.reconnecting(async () => (await this.pool.query(sql, args)).rows as R[]);
  }

  /** One transaction, retried whole (`attempt` > 1: an earlier attempt may have committed). */
  private async tx<T>(fn: (c: PoolClient, attempt: number) => Promise<T>): Promise<T> {
    await this.init();
    return this.reconnecting(async (attempt) => {
      const c = await this.pool.connect();
      let broken = false;
      try {
        await c.query('BEGIN');
        const r = await fn(c, attempt);
        await c.query('COMMIT');
        return r;
      } catch (e) {
        broken = isConnectionError(e);
        if (!broken) await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        c.release(broken); // a broken connection is dropped, not pooled again
      }
    });
  }

  async createStudy(directions: StudyDirection[], studyName: string): Promise<number> {
    const rows = await this.q<{ study_id: number }>('INSERT INTO iccl_studies (study_name, directions) VALUES ($1, $2) ON CONFLICT (study_name) DO NOTHING RETURNING study_id', [
      studyName,
      directions.map(Number),
    ]);
    if (!rows.length) throw new DuplicatedStudyError(`a study named "${studyName}" already exists`);
    return rows[0].study_id;
  }
  async deleteStudy(studyId: number): Promise<void> {
    const r = await this.q('DELETE FROM iccl_studies WHERE study_id = $1 RETURNING study_id', [studyId]);
    if (!r.length) throw new StudyNotFoundError(`no study with id ${studyId}`);
  }
  private async studyRow(studyId: number): Promise<{ study_id: number; study_name: string; directions: number[]; user_attrs: Record<string, unknown>; system_attrs: Record<string, unknown> }> {
    const r = await this.q<{ study_id: number; study_name: string; directions: number[]; user_attrs: Record<string, unknown>; system_attrs: Record<string, unknown> }>(
      'SELECT study_id, study_name, directions, user_attrs, system_attrs FROM iccl_studies WHERE study_id = $1',
      [studyId],
    );
    if (!r.length) throw new StudyNotFoundError(`no study with id ${studyId}`);
    return r[0];
  }
  async getStudyIdFromName(studyName: string): Promise<number> {
    const r = await this.q<{ study_id: number }>('SELECT study_id FROM iccl_studies WHERE study_name = $1', [studyName]);
    if (!r.length) throw new StudyNotFoundError(`no study named "${studyName}"`);
    return r[0].study_id;
  }
  async getStudyNameFromId(studyId: number): Promise<string> {
    return (await this.studyRow(studyId)).study_name;
  }
  async getStudyDirections(studyId: number): Promise<StudyDirection[]> {
    return (await this.studyRow(studyId)).directions as StudyDirection[];
  }
  async getAllStudies(): Promise<FrozenStudy[]> {
    const rows = await this.q<{ study_id: number; study_name: string; directions: number[]; user_attrs: Record<string, unknown>; system_attrs: Record<string, unknown> }>(
      'SELECT study_id, study_name, directions, user_attrs, system_attrs FROM iccl_studies ORDER BY study_id',
    );
    return rows.map((r) => ({ studyId: r.study_id, studyName: r.study_name, directions: r.directions as StudyDirection[], userAttrs: r.user_attrs, systemAttrs: r.system_attrs }));
  }
  private async setStudyAttr(col: 'user_attrs' | 'system_attrs', studyId: number, key: string, value: unknown): Promise<void> {
    const r = await this.q(`UPDATE iccl_studies SET ${col} = ${col} || jsonb_build_object($2::text, $3::jsonb) WHERE study_id = $1 RETURNING study_id`, [studyId, key, jsonb(value)]);
    if (!r.length) throw new StudyNotFoundError(`no study with id ${studyId}`);
  }
  setStudyUserAttr(studyId: number, key: string, value: unknown): Promise<void> {
    return this.setStudyAttr('user_attrs', studyId, key, value);
  }
  setStudySystemAttr(studyId: number, key: string, value: unknown): Promise<void> {
    return this.setStudyAttr('system_attrs', studyId, key, value);
  }
  async getStudyUserAttrs(studyId: number): Promise<Record<string, unknown>> {
    return (await this.studyRow(studyId)).user_attrs;
  }
  async getStudySystemAttrs(studyId: number): Promise<Record<string, unknown>> {
    return (await this.studyRow(studyId)).system_attrs;
  }

  async createNewTrial(studyId: number, template?: Partial<FrozenTrial>): Promise<number> {
    const token = crypto.randomUUID();
    return this.tx(async (c, attempt) => (attempt > 1 ? await this.createdBefore(c, token) : null) ?? this.insertTrial(c, studyId, token, template));
  }

  /** The trial an earlier attempt with `token` created, if its commit went through. */
  private async createdBefore(c: PoolClient, token: string): Promise<number | null> {
    const r = await c.query<{ trial_id: number }>('SELECT trial_id FROM iccl_trials WHERE create_token = $1', [token]);
    return r.rows.length ? r.rows[0].trial_id : null;
  }

  /** Takes the next trial number (under the study row's lock) and inserts the trial, in `c`'s transaction. */
  private async insertTrial(c: PoolClient, studyId: number, token: string, template?: Partial<FrozenTrial>): Promise<number> {
    const n = await c.query<{ number: number }>('UPDATE iccl_studies SET next_number = next_number + 1 WHERE study_id = $1 RETURNING next_number - 1 AS number', [studyId]);
    if (!n.rows.length) throw new StudyNotFoundError(`no study with id ${studyId}`);
    const state = template?.state ?? TrialState.RUNNING;
    const dists = template?.distributions ?? {};
    const params: Record<string, ParamCell> = {};
    for (const [k, v] of Object.entries(template?.params ?? {})) params[k] = { v: toInternal(dists[k], v), d: distributionToJson(dists[k]) };
    const start = template?.datetimeStart ?? (state === TrialState.WAITING ? null : new Date());
    const complete = template?.datetimeComplete ?? (isFinished(state) ? new Date() : null);
    const r = await c.query<{ trial_id: number }>(
      `INSERT INTO iccl_trials (study_id, number, state, "values", datetime_start, datetime_complete, params, user_attrs, system_attrs, heartbeat, create_token)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $3 = ${TrialState.RUNNING} THEN now() END, $10) RETURNING trial_id`,
      [studyId, n.rows[0].number, state, template?.values ?? null, start, complete, jsonb(params), jsonb(template?.userAttrs ?? {}), jsonb(template?.systemAttrs ?? {}), token],
    );
    const id = r.rows[0].trial_id;
    for (const [step, v] of template?.intermediateValues ?? new Map<number, number>()) {
      await c.query('INSERT INTO iccl_trial_values (trial_id, step, value) VALUES ($1, $2, $3)', [id, step, v]);
    }
    return id;
  }

  /**
   * The study row's lock (which every trial creation takes) serialises count and insert; under READ
   * COMMITTED the count, a statement after the lock, sees every trial committed before it.
   */
  async createTrialWithinLimit(studyId: number, limit: number, exemptAttr: string): Promise<number | null> {
    const token = crypto.randomUUID();
    return this.tx(async (c, attempt) => {
      const before = attempt > 1 ? await this.createdBefore(c, token) : null;
      if (before !== null) return before;
      const locked = await c.query('SELECT study_id FROM iccl_studies WHERE study_id = $1 FOR UPDATE', [studyId]);
      if (!locked.rows.length) throw new StudyNotFoundError(`no study with id ${studyId}`);
      const n = await c.query<{ n: string }>('SELECT count(*) AS n FROM iccl_trials WHERE study_id = $1 AND NOT (system_attrs ? $2)', [studyId, exemptAttr]);
      if (Number(n.rows[0].n) >= limit) return null;
      return this.insertTrial(c, studyId, token);
    });
  }

  /** Explains why a guarded UPDATE matched nothing. */
  private async whyNot(trialId: number): Promise<never> {
    const r = await this.q<{ number: number; state: number }>('SELECT number, state FROM iccl_trials WHERE trial_id = $1', [trialId]);
    if (!r.length) throw new Error(`no trial with id ${trialId}`);
    throw new StaleTrialError(`trial #${r[0].number} (id ${trialId}) is already ${TrialState[r[0].state]} and cannot be updated`);
  }

  async setTrialStateValues(trialId: number, state: TrialState, values?: number[] | null): Promise<boolean> {
    if (state === TrialState.RUNNING) {
      // The atomic claim: of all workers that try, exactly one UPDATE finds the row still WAITING.
      // Its token tells a retried claim whether the first attempt won before the connection dropped.
      const token = crypto.randomUUID();
      return this.tx(async (c, attempt) => {
        const r = await c.query(
          `UPDATE iccl_trials SET state = $2, datetime_start = now(), heartbeat = now(), claim_token = $3 WHERE trial_id = $1 AND state = ${TrialState.WAITING} RETURNING trial_id`,
          [trialId, state, token],
        );
        if (r.rows.length === 1) return true;
        if (attempt === 1) return false;
        return (await c.query('SELECT 1 FROM iccl_trials WHERE trial_id = $1 AND claim_token = $2', [trialId, token])).rows.length === 1;
      });
    }
    return this.tx(async (c, attempt) => {
      const r = await c.query(
        `UPDATE iccl_trials SET state = $2, "values" = COALESCE($3, "values"), datetime_complete = CASE WHEN $4 THEN now() ELSE datetime_complete END
         WHERE trial_id = $1 AND ${LIVE} RETURNING trial_id`,
        [trialId, state, values ?? null, isFinished(state)],
      );
      if (r.rows.length) return true;
      // A retry finding the very state it set: the first attempt went through.
      if (attempt > 1 && (await c.query('SELECT 1 FROM iccl_trials WHERE trial_id = $1 AND state = $2', [trialId, state])).rows.length) return true;
      return this.whyNot(trialId);
    });
  }

  async setTrialParam(trialId: number, name: string, internalValue: number, distribution: Distribution): Promise<void> {
    const cell: ParamCell = { v: internalValue, d: distributionToJson(distribution) };
    const r = await this.q(`UPDATE iccl_trials SET params = params || jsonb_build_object($2::text, $3::jsonb) WHERE trial_id = $1 AND ${LIVE} RETURNING trial_id`, [trialId, name, jsonb(cell)]);
    if (!r.length) await this.whyNot(trialId);
  }
  async setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void> {
    const r = await this.q(
      `INSERT INTO iccl_trial_values (trial_id, step, value) SELECT trial_id, $2, $3 FROM iccl_trials WHERE trial_id = $1 AND ${LIVE}
       ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value RETURNING trial_id`,
      [trialId, step, value],
    );
    if (!r.length) await this.whyNot(trialId);
  }
  private async setTrialAttr(col: 'user_attrs' | 'system_attrs', trialId: number, key: string, value: unknown): Promise<void> {
    const r = await this.q(`UPDATE iccl_trials SET ${col} = ${col} || jsonb_build_object($2::text, $3::jsonb) WHERE trial_id = $1 AND ${LIVE} RETURNING trial_id`, [trialId, key, jsonb(value)]);
    if (!r.length) await this.whyNot(trialId);
  }
  setTrialUserAttr(trialId: number, key: string, value: unknown): Promise<void> {
    return this.setTrialAttr('user_attrs', trialId, key, value);
  }
  setTrialSystemAttr(trialId: number, key: string, value: unknown): Promise<void> {
    return this.setTrialAttr('system_attrs', trialId, key, value);
  }

  private async frozen(rows: TrialRow[]): Promise<FrozenTrial[]> {
    if (!rows.length) return [];
    const ivs = await this.q<{ trial_id: number; step: number; value: number }>('SELECT trial_id, step, value FROM iccl_trial_values WHERE trial_id = ANY($1) ORDER BY trial_id, step', [
      rows.map((r) => r.trial_id),
    ]);
    const byTrial = new Map<number, Map<number, number>>();
    for (const v of ivs) {
      if (!byTrial.has(v.trial_id)) byTrial.set(v.trial_id, new Map());
      byTrial.get(v.trial_id)!.set(v.step, v.value);
    }
    return rows.map((r) => {
      const distributions: Record<string, Distribution> = {};
      const params: FrozenTrial['params'] = {};
      for (const [k, cell] of Object.entries(r.params)) {
        distributions[k] = distributionFromJson(cell.d);
        params[k] = toExternal(distributions[k], cell.v);
      }
      return {
        trialId: r.trial_id,
        number: r.number,
        state: r.state as TrialState,
        values: r.values,
        datetimeStart: r.datetime_start,
        datetimeComplete: r.datetime_complete,
        params,
        distributions,
        userAttrs: r.user_attrs,
        systemAttrs: r.system_attrs,
        intermediateValues: byTrial.get(r.trial_id) ?? new Map(),
      };
    });
  }

  async getTrial(trialId: number): Promise<FrozenTrial> {
    const rows = await this.q<TrialRow>('SELECT * FROM iccl_trials WHERE trial_id = $1', [trialId]);
    if (!rows.length) throw new Error(`no trial with id ${trialId}`);
    return (await this.frozen(rows))[0];
  }
  async getAllTrials(studyId: number, states?: TrialState[]): Promise<FrozenTrial[]> {
    await this.studyRow(studyId);
    const rows = states
      ? await this.q<TrialRow>('SELECT * FROM iccl_trials WHERE study_id = $1 AND state = ANY($2) ORDER BY number', [studyId, states])
      : await this.q<TrialRow>('SELECT * FROM iccl_trials WHERE study_id = $1 ORDER BY number', [studyId]);
    return this.frozen(rows);
  }
  async getTrialIdFromStudyIdTrialNumber(studyId: number, trialNumber: number): Promise<number> {
    const r = await this.q<{ trial_id: number }>('SELECT trial_id FROM iccl_trials WHERE study_id = $1 AND number = $2', [studyId, trialNumber]);
    if (!r.length) throw new Error(`no trial number ${trialNumber} in study ${studyId}`);
    return r[0].trial_id;
  }

  async recordHeartbeat(trialId: number): Promise<void> {
    await this.q(`UPDATE iccl_trials SET heartbeat = now() WHERE trial_id = $1 AND state = ${TrialState.RUNNING}`, [trialId]);
  }
  async getStaleTrialIds(studyId: number, graceSeconds: number): Promise<number[]> {
    // Right after an outage every heartbeat is old, its driver's too: wait a full grace first.
    if (Date.now() - this.regainedAt < graceSeconds * 1000) return [];
    const r = await this.q<{ trial_id: number }>(
      `SELECT trial_id FROM iccl_trials WHERE study_id = $1 AND state = ${TrialState.RUNNING} AND heartbeat < now() - make_interval(secs => $2) ORDER BY number`,
      [studyId, graceSeconds],
    );
    return r.map((x) => x.trial_id);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
