import * as path from 'node:path';
import { consoleLogger, type Logger } from '@iccl/trainer-api';
import { MlflowClient } from './client';
import { credentialsFromEnv, safeUri, type TrackingCredentials } from './credentials';
import { MlflowTrackingBackend, type MlflowBackendOptions } from './backend';
import { JournalTrackingBackend } from './journal-backend';
import { findMlflowBinary, LocalMlflowServer } from './local-server';

export interface CreateMlflowBackendOptions {
  /** Default: $MLFLOW_TRACKING_URI; unset means "start a local server". */
  trackingUri?: string;
  /** Folder of the local store (mlflow.db, mlartifacts/) and of the offline journal; default cwd. */
  dir?: string;
  experimentName?: string;
  credentials?: TrackingCredentials;
  logger?: Logger;
  tags?: Record<string, string>;
  spoolDir?: string;
  tracker?: MlflowBackendOptions['tracker'];
  handleSigint?: boolean;
  /** `mlflow` executable; default: found by findMlflowBinary(); null: behave as if not installed. */
  mlflowBin?: string | null;
  /** Offline journal when there is no MLflow at all; default <dir>/mlflow-journal.jsonl. */
  journalFile?: string;
}

/**
 * The file of a sqlite:/// URI as an absolute path (relative paths are taken from the current
 * folder, as SQLAlchemy does), or undefined for another database or an in-memory sqlite.
 */
export function sqliteFile(uri: string, cwd = process.cwd()): string | undefined {
  const m = /^sqlite(\+\w+)?:\/\/\/(.+?)(\?.*)?$/i.exec(uri);
  if (!m || m[2] === ':memory:') return undefined;
  return path.resolve(cwd, m[2]);
}

/**
 * The tracking backend a run should use, MLflow's own way:
 * - MLFLOW_TRACKING_URI=http(s)://... -> log to that server;
 * - MLFLOW_TRACKING_URI=sqlite:///... or unset -> start `mlflow server` on a free loopback port over
 *   that store (default sqlite:///<dir>/mlflow.db, artifacts in <dir>/mlartifacts), log through it,
 *   stop it on close(); a plain `mlflow ui` in <dir> shows the runs afterwards;
 * - no mlflow installed -> an offline journal that `sync` replays into a server later.
 */
export async function createMlflowBackend(opts: CreateMlflowBackendOptions = {}): Promise<MlflowTrackingBackend | JournalTrackingBackend> {
  const logger = opts.logger ?? consoleLogger('mlflow');
  const dir = path.resolve(opts.dir ?? process.cwd());
  const uri = opts.trackingUri ?? (process.env.MLFLOW_TRACKING_URI || undefined);
  const common = {
    experimentName: opts.experimentName,
    logger,
    tags: opts.tags,
    spoolDir: opts.spoolDir ?? process.env.ICCL_MLFLOW_SPOOL_DIR ?? path.join(dir, '.mlflow-spool'),
    tracker: opts.tracker,
    handleSigint: opts.handleSigint,
  };
  if (uri && /^https?:\/\//i.test(uri)) {
    const client = new MlflowClient({ trackingUri: uri, credentials: opts.credentials ?? credentialsFromEnv() });
    return new MlflowTrackingBackend({ client, ...common });
  }
  let backendStoreUri: string | undefined;
  let storeDir = dir;
  if (uri) {
    if (!/^(sqlite|postgresql|mysql|mssql)(\+\w+)?:\/\//i.test(uri)) {
      throw new Error(`MLFLOW_TRACKING_URI ${JSON.stringify(safeUri(uri))}: expected http(s)://host:port of a tracking server, or a database URI (sqlite:///path/mlflow.db) to serve locally; the mlruns/ file store is not supported`);
    }
    backendStoreUri = uri;
    const db = sqliteFile(uri);
    if (db) {
      // The artifacts go beside the store, wherever the command runs.
      storeDir = path.dirname(db);
      backendStoreUri = `sqlite:///${db}`;
    }
  }
  const bin = opts.mlflowBin === null ? undefined : (opts.mlflowBin ?? findMlflowBinary());
  if (!bin) {
    return new JournalTrackingBackend({ file: opts.journalFile ?? path.join(dir, 'mlflow-journal.jsonl'), experimentName: opts.experimentName, logger, tags: opts.tags });
  }
  // Not waited for: runs spool until it answers, like any server that is away for a while.
  const { server, ready } = await LocalMlflowServer.begin({ dir: storeDir, bin, backendStoreUri });
  // Said before any run starts: until the server answers, runs find it away, and that is expected.
  logger.info(`starting a local MLflow server at ${server.uri} (store ${safeUri(server.backendStoreUri)}); runs are queued until it answers`);
  const started = ready.then(
    () =>
      logger.info(
        `started a local MLflow server at ${server.uri} (store ${safeUri(server.backendStoreUri)}, artifacts ${path.join(storeDir, 'mlartifacts')}); ` +
          `it stops at the end; to browse the runs later: cd ${storeDir} && mlflow ui`,
      ),
    (e: Error) => logger.error(`mlflow: the local server did not start (${e.message.split('\n')[0]}); the runs wait in the spool for the next start`),
  );
  const client = new MlflowClient({ trackingUri: server.uri, credentials: {} });
  return new MlflowTrackingBackend({ client, ...common, ready: started, onClose: () => server.stop(), localServer: server });
}
