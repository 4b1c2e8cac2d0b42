import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { authorizationHeader, credentialsFromEnv, redact, safeUri, type TrackingCredentials } from './credentials';
import { MlflowApiError } from './errors';
import { encodeArtifactPath, normalizeArtifactPath } from './artifact-path';
import { fetchTransport, insecureTlsTransport, type HttpRequest, type Transport } from './transport';
import {
  errorBodySchema,
  experimentSchema,
  fileInfoSchema,
  metricSchema,
  runInfoSchema,
  runSchema,
  type Dataset,
  type Experiment,
  type FileInfo,
  type Metric,
  type MlflowRunStatus,
  type Run,
  type RunInfo,
} from './schemas';
import type { KeyValue, MetricPoint } from './limits';
import { EXPERIMENT_KIND_TAG, experimentKindTags, lacksKind, MODEL_TRAINING_KIND } from './experiment-kind';

export interface MlflowClientOptions {
  /** http(s)://host:port[/prefix] of the tracking server. */
  trackingUri: string;
  credentials?: TrackingCredentials;
  /** Per-request timeout, ms (default 30 s; uploads get 10 min). */
  timeoutMs?: number;
  transport?: Transport;
}

export interface SearchRunsRequest {
  experimentIds: string[];
  filter?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
  /** ACTIVE_ONLY (default), DELETED_ONLY, ALL. */
  runViewType?: 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
}

/** MLflow wants doubles as JSON numbers, and NaN/±Infinity as their proto3-JSON strings. */
function encodeDouble(v: number): number | string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

/**
 * A thin, typed client for MLflow's tracking REST API: one method per endpoint, no state beyond the
 * connection settings, no retries (the tracker decides what to retry). Errors are MlflowApiError
 * with credentials removed from every message.
 */
export class MlflowClient {
  readonly trackingUri: string;
  private readonly base: string;
  private readonly credentials: TrackingCredentials;
  private readonly timeoutMs: number;
  private readonly transport: Transport;

  constructor(opts: MlflowClientOptions) {
    let u: URL;
    try {
      u = new URL(opts.trackingUri);
    } catch {
      throw new Error(`MLFLOW_TRACKING_URI ${JSON.stringify(safeUri(opts.trackingUri))}: expected an http(s):// URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new Error(`MLFLOW_TRACKING_URI ${JSON.stringify(safeUri(opts.trackingUri))}: expected an http(s):// URL (this client talks to a tracking server)`);
    }
    const creds = { ...(opts.credentials ?? credentialsFromEnv()) };
    // user:password inside the URI is an accepted way to pass basic credentials; move it to the header.
    if (u.username && creds.username === undefined) {
      creds.username = decodeURIComponent(u.username);
      creds.password = decodeURIComponent(u.password);
    }
    u.username = '';
    u.password = '';
    this.credentials = creds;
    this.trackingUri = u.toString().replace(/\/+$/, '');
    this.base = this.trackingUri;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.transport = opts.transport ?? (creds.insecureTls ? insecureTlsTransport : fetchTransport);
  }

  /** Text with this client's secrets removed. */
  redact(text: string): string {
    return redact(text, this.credentials);
  }

  private async call<T extends z.ZodType>(
    method: HttpRequest['method'],
    endpoint: string,
    schema: T,
    payload?: Record<string, unknown>,
    body?: HttpRequest['body'],
    timeoutMs = this.timeoutMs,
  ): Promise<z.infer<T>> {
    let url = `${this.base}${endpoint}`;
    const headers: Record<string, string> = { 'user-agent': 'iccl-mlflow/0.1' };
    const auth = authorizationHeader(this.credentials);
    if (auth) headers.authorization = auth;
    let reqBody = body;
    if (payload && method === 'GET') {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(payload)) if (v !== undefined) qs.append(k, String(v));
      url += `?${qs.toString()}`;
    } else if (payload) {
      headers['content-type'] = 'application/json';
      reqBody = JSON.stringify(payload);
    }
    let res;
    try {
      res = await this.transport({ method, url, headers, body: reqBody, timeoutMs }).catch((e: Error & { cause?: { code?: string } }) => {
        // A kept-alive socket the server already closed: a GET is safe to send once more at once.
        const code = e.cause?.code;
        if (method === 'GET' && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')) return this.transport({ method, url, headers, body: reqBody, timeoutMs });
        throw e;
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const code = err.cause?.code ?? (err.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK_ERROR');
      const detail = err.cause?.message ?? err.message;
      throw new MlflowApiError(this.redact(`MLflow ${endpoint}: cannot reach ${this.trackingUri} (${code}: ${detail})`), 0, code, endpoint);
    }
    if (res.status < 200 || res.status >= 300) throw this.errorFrom(endpoint, res.status, res.text);
    let json: unknown = {};
    if (res.text.trim() !== '') {
      try {
        json = JSON.parse(res.text);
      } catch {
        throw new MlflowApiError(this.redact(`MLflow ${endpoint}: expected JSON from ${this.trackingUri}, got ${JSON.stringify(res.text.slice(0, 120))}`), res.status, 'BAD_RESPONSE', endpoint);
      }
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new MlflowApiError(
        `MLflow ${endpoint}: unexpected response shape at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
        res.status,
        'BAD_RESPONSE',
        endpoint,
      );
    }
    return parsed.data;
  }

  private errorFrom(endpoint: string, status: number, text: string): MlflowApiError {
    let code = `HTTP_${status}`;
    let msg = text.trim().slice(0, 300);
    try {
      const b = errorBodySchema.parse(JSON.parse(text));
      code = b.error_code ?? code;
      msg = b.message ?? msg;
    } catch {
      /* not JSON: keep the raw text */
    }
    if (status === 401) {
      msg = `authentication failed at ${this.trackingUri}: check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN`;
      code = 'UNAUTHENTICATED';
    } else if (status === 403) {
      msg = `permission denied at ${this.trackingUri} for ${endpoint}: the user lacks the permission (${msg})`;
      code = 'PERMISSION_DENIED';
    }
    return new MlflowApiError(this.redact(`MLflow ${endpoint}: ${msg} (HTTP ${status}, ${code})`), status, code, endpoint);
  }

  // ---- health ----------------------------------------------------------------------------------

  /** True when GET /health answers 200. Never throws. */
  async health(timeoutMs = 2000): Promise<boolean> {
    try {
      const res = await this.transport({ method: 'GET', url: `${this.base}/health`, headers: {}, timeoutMs });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * True when something answers /health below 500 (a proxy in front may ask for credentials on
   * /health; that still means the server is back). Never throws.
   */
  async reachable(timeoutMs = 2000): Promise<boolean> {
    try {
      const res = await this.transport({ method: 'GET', url: `${this.base}/health`, headers: {}, timeoutMs });
      return res.status > 0 && res.status < 500 && res.status !== 429;
    } catch {
      return false;
    }
  }

  // ---- experiments -----------------------------------------------------------------------------

  /** GET experiments/get-by-name; undefined when there is none. */
  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const r = await this.call('GET', '/api/2.0/mlflow/experiments/get-by-name', z.object({ experiment: experimentSchema }), { experiment_name: name });
      return r.experiment;
    } catch (e) {
      if (e instanceof MlflowApiError && e.notFound) return undefined;
      throw e;
    }
  }

  /** POST experiments/create; returns the new id. */
  async createExperiment(name: string, tags: KeyValue[] = []): Promise<string> {
    const r = await this.call('POST', '/api/2.0/mlflow/experiments/create', z.object({ experiment_id: z.string() }), { name, tags });
    return r.experiment_id;
  }

  /** POST experiments/set-experiment-tag. */
  async setExperimentTag(experimentId: string, key: string, value: string): Promise<void> {
    await this.call('POST', '/api/2.0/mlflow/experiments/set-experiment-tag', z.object({}).passthrough(), { experiment_id: experimentId, key, value });
  }

  /** get-by-name, else create; a concurrent creator winning the race is fine. Marked as model training (experiment-kind.ts). */
  async getOrCreateExperiment(name: string): Promise<string> {
    const found = await this.getExperimentByName(name);
    if (found) {
      if (lacksKind(found)) await this.setExperimentTag(found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND);
      return found.experiment_id;
    }
    try {
      return await this.createExperiment(name, experimentKindTags());
    } catch (e) {
      if (e instanceof MlflowApiError && e.errorCode === 'RESOURCE_ALREADY_EXISTS') {
        const again = await this.getExperimentByName(name);
        if (again) return again.experiment_id;
      }
      throw e;
    }
  }

  // ---- runs ------------------------------------------------------------------------------------

  /** POST runs/create. */
  async createRun(req: { experimentId: string; runName?: string; startTime?: number; tags?: KeyValue[]; userId?: string }): Promise<Run> {
    const r = await this.call('POST', '/api/2.0/mlflow/runs/create', z.object({ run: runSchema }), {
      experiment_id: req.experimentId,
      run_name: req.runName,
      start_time: req.startTime ?? Date.now(),
      tags: req.tags ?? [],
      user_id: req.userId,
    });
    return r.run;
  }

  /** POST runs/update: status, end time, name. */
  async updateRun(req: { runId: string; status?: MlflowRunStatus; endTime?: number; runName?: string }): Promise<RunInfo> {
    const r = await this.call('POST', '/api/2.0/mlflow/runs/update', z.object({ run_info: runInfoSchema }), {
      run_id: req.runId,
      status: req.status,
      end_time: req.endTime,
      run_name: req.runName,
    });
    return r.run_info;
  }

  /** GET runs/get. */
  async getRun(runId: string): Promise<Run> {
    const r = await this.call('GET', '/api/2.0/mlflow/runs/get', z.object({ run: runSchema }), { run_id: runId });
    return r.run;
  }

  /** POST runs/log-batch. The caller keeps within LIMITS (see splitBatches). */
  async logBatch(runId: string, batch: { metrics?: MetricPoint[]; params?: KeyValue[]; tags?: KeyValue[] }): Promise<void> {
    await this.call('POST', '/api/2.0/mlflow/runs/log-batch', z.object({}).passthrough(), {
      run_id: runId,
      // Points go as they are unless one is NaN/±Infinity (JSON has no literal for those).
      metrics: (batch.metrics ?? []).every((m) => Number.isFinite(m.value))
        ? (batch.metrics ?? [])
        : (batch.metrics ?? []).map((m) => ({ key: m.key, value: encodeDouble(m.value), timestamp: m.timestamp, step: m.step })),
      params: batch.params ?? [],
      tags: batch.tags ?? [],
    });
  }

  /** POST runs/delete: the run goes to the deleted lifecycle stage (hidden, restorable). */
  async deleteRun(runId: string): Promise<void> {
    await this.call('POST', '/api/2.0/mlflow/runs/delete', z.object({}).passthrough(), { run_id: runId });
  }

  /** POST runs/set-tag. */
  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.call('POST', '/api/2.0/mlflow/runs/set-tag', z.object({}).passthrough(), { run_id: runId, key, value });
  }

  /** POST runs/search: one page. */
  async searchRuns(req: SearchRunsRequest): Promise<{ runs: Run[]; nextPageToken?: string }> {
    const r = await this.call(
      'POST',
      '/api/2.0/mlflow/runs/search',
      z.object({ runs: z.array(runSchema).optional().default([]), next_page_token: z.string().optional() }),
      {
        experiment_ids: req.experimentIds,
        filter: req.filter,
        max_results: req.maxResults ?? 1000,
        order_by: req.orderBy,
        page_token: req.pageToken,
        run_view_type: req.runViewType,
      },
    );
    return { runs: r.runs, nextPageToken: r.next_page_token || undefined };
  }

  /** POST runs/log-inputs (datasets). */
  async logInputs(runId: string, datasets: { dataset: Dataset; tags?: KeyValue[] }[]): Promise<void> {
    await this.call('POST', '/api/2.0/mlflow/runs/log-inputs', z.object({}).passthrough(), {
      run_id: runId,
      datasets: datasets.map((d) => ({ tags: d.tags ?? [], dataset: d.dataset })),
    });
  }

  /** GET metrics/get-history: every point of one metric (follows pages). */
  async getMetricHistory(runId: string, metricKey: string): Promise<Metric[]> {
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.call(
        'GET',
        '/api/2.0/mlflow/metrics/get-history',
        z.object({ metrics: z.array(metricSchema).optional().default([]), next_page_token: z.string().optional() }),
        { run_id: runId, metric_key: metricKey, max_results: 25000, page_token: pageToken },
      );
      out.push(...r.metrics);
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  // ---- artifacts (through the server's proxy: mlflow server --serve-artifacts) -------------------

  /** Where a run's artifacts live on the proxy, from its artifact_uri (mlflow-artifacts:/<exp>/<run>/artifacts). */
  static proxyRoot(artifactUri: string | undefined): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(artifactUri ?? '');
    if (!m) {
      throw new Error(
        `run artifact_uri ${JSON.stringify(artifactUri)}: expected mlflow-artifacts:/... — start the server with --serve-artifacts so artifacts go through its proxy`,
      );
    }
    return m[1].replace(/\/+$/, '');
  }

  /** PUT mlflow-artifacts/artifacts/<root>/<path>: streams the file from disk. */
  async uploadArtifact(artifactUri: string | undefined, localPath: string, artifactPath?: string): Promise<string> {
    const root = MlflowClient.proxyRoot(artifactUri);
    const folder = normalizeArtifactPath(artifactPath);
    const stat = await fs.promises.stat(localPath);
    if (!stat.isFile()) throw new Error(`artifact ${localPath}: expected a regular file`);
    const rel = folder ? `${folder}/${path.basename(localPath)}` : path.basename(localPath);
    await this.call(
      'PUT',
      `/api/2.0/mlflow-artifacts/artifacts/${encodeArtifactPath(root)}/${encodeArtifactPath(rel)}`,
      z.unknown(),
      undefined,
      { file: localPath, size: stat.size },
      Math.max(this.timeoutMs, 600_000),
    );
    return rel;
  }

  /** GET mlflow-artifacts/artifacts/<root>/<path>: the file's text (small files; for checks and tests). */
  async downloadArtifactText(artifactUri: string | undefined, artifactPath: string): Promise<string> {
    const root = MlflowClient.proxyRoot(artifactUri);
    const rel = normalizeArtifactPath(artifactPath);
    const headers: Record<string, string> = {};
    const auth = authorizationHeader(this.credentials);
    if (auth) headers.authorization = auth;
    const endpoint = `/api/2.0/mlflow-artifacts/artifacts/${encodeArtifactPath(root)}/${encodeArtifactPath(rel)}`;
    let res;
    try {
      res = await this.transport({ method: 'GET', url: this.base + endpoint, headers, timeoutMs: this.timeoutMs });
    } catch (e) {
      throw new MlflowApiError(this.redact(`MLflow ${endpoint}: cannot reach ${this.trackingUri} (${(e as Error).message})`), 0, 'NETWORK_ERROR', endpoint);
    }
    if (res.status !== 200) throw this.errorFrom(endpoint, res.status, res.text);
    return res.text;
  }

  /** GET artifacts/list: one folder of a run's artifacts. */
  async listArtifacts(runId: string, artifactPath = ''): Promise<FileInfo[]> {
    const r = await this.call('GET', '/api/2.0/mlflow/artifacts/list', z.object({ files: z.array(fileInfoSchema).optional().default([]) }), {
      run_id: runId,
      path: normalizeArtifactPath(artifactPath) || undefined,
    });
    return r.files;
  }
}
