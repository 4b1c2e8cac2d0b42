import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { findMlflowBinary, LocalMlflowServer } from '../../src/local-server';

declare global {
  var __icclMlflowServers: LocalMlflowServer[] | undefined;
  var __icclMlflowTmp: string | undefined;
}

/**
 * Starts the real MLflow servers the tests talk to, unless CI already gave their URIs.
 * No mlflow -> the whole run fails here with a message saying what to install (never skips).
 */
export default async function globalSetup(): Promise<void> {
  const needMain = !process.env.ICCL_TEST_MLFLOW_URI;
  const needAuth = !process.env.ICCL_TEST_MLFLOW_AUTH_URI;
  const bin = findMlflowBinary();
  if (!bin) {
    throw new Error(
      'MLflow tests need a real `mlflow` (tests never skip): install the pinned one (.venv/bin/pip install "mlflow[auth]==3.17.2"), put it on PATH, set ICCL_MLFLOW_BIN, or set ICCL_TEST_MLFLOW_URI (+ ICCL_TEST_MLFLOW_AUTH_URI/_USER/_PASSWORD) to running servers.',
    );
  }
  process.env.ICCL_TEST_MLFLOW_BIN = bin;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-mlflow-test-'));
  globalThis.__icclMlflowTmp = tmp;
  globalThis.__icclMlflowServers = [];
  const starts: Promise<void>[] = [];
  if (needMain) {
    starts.push(
      LocalMlflowServer.start({ dir: path.join(tmp, 'main'), bin }).then((s) => {
        globalThis.__icclMlflowServers!.push(s);
        process.env.ICCL_TEST_MLFLOW_URI = s.uri;
      }),
    );
  }
  if (needAuth) {
    // MLflow 3.17 ships no admin password: the auth app takes it from its ini file (or
    // MLFLOW_AUTH_ADMIN_PASSWORD) when it first creates the admin user in its own database.
    const dir = path.join(tmp, 'auth');
    fs.mkdirSync(dir, { recursive: true });
    const password = 'pw-' + randomBytes(9).toString('hex');
    const ini = path.join(dir, 'basic_auth.ini');
    fs.writeFileSync(
      ini,
      [
        '[mlflow]',
        'default_permission = READ',
        `database_uri = sqlite:///${path.join(dir, 'basic_auth.db')}`,
        'admin_username = admin',
        `admin_password = ${password}`,
        'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
        '',
      ].join('\n'),
    );
    starts.push(
      LocalMlflowServer.start({
        dir,
        bin,
        appName: 'basic-auth',
        env: { MLFLOW_AUTH_CONFIG_PATH: ini, MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(16).toString('hex') },
      }).then((s) => {
        globalThis.__icclMlflowServers!.push(s);
        process.env.ICCL_TEST_MLFLOW_AUTH_URI = s.uri;
        process.env.ICCL_TEST_MLFLOW_AUTH_USER = 'admin';
        process.env.ICCL_TEST_MLFLOW_AUTH_PASSWORD = password;
      }),
    );
  }
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(globalThis.__icclMlflowServers.map((s) => s.stop()));
    throw new Error(`could not start the MLflow test server: ${(failed.reason as Error).message}`);
  }
}
