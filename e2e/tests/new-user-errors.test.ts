import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { searchCli } from './support/cli';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** The last non-empty line of stderr: the one a user reads. */
const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

describe('errors a new user meets end with one clear message that says what to do', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-errors-'));

  it('no data directory', () => {
    const r = searchCli(['run', '--space', 'inat18', '--storage', 'memory', '--tracking', 'none', '--no-report']);
    expect(r.status).not.toBe(0);
    expect(lastLine(r.stderr)).toMatch(/^error: inat18: no --data-dir given: expected train2018\.json.*pass --data-dir DIR. Download iNaturalist 2018/);
  });

  it('a wrong layout (an image folder where iNaturalist annotations are expected)', () => {
    const dir = path.join(tmp, 'image-folder');
    fs.mkdirSync(path.join(dir, 'cat'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'cat', '0.jpg'), 'not really');
    const r = searchCli(['run', '--space', 'inat18', '--data-dir', dir, '--storage', 'memory', '--tracking', 'none', '--no-report']);
    expect(r.status).not.toBe(0);
    expect(lastLine(r.stderr)).toContain(`data not found in ${dir}: expected train2018.json or iNaturalist18_train.txt`);
  });

  it('an unreachable tracking server: the search still runs, and one closing line says what to check', async () => {
    const port = await closedPort();
    const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-e2e-spool-'));
    const r = searchCli(['run', '--space', 'demo', '--configuration', 'smoke', '--storage', 'memory', '--tracking', `mlflow:http://127.0.0.1:${port}`, '--no-report'], { ICCL_MLFLOW_SPOOL_DIR: spool });
    expect(r.status).toBe(0); // tracking is never on the critical path
    const closing = r.stderr.split('\n').filter((l) => l.includes('was never reachable'));
    expect(closing).toHaveLength(1);
    expect(closing[0]).toContain(`http://127.0.0.1:${port}`);
    expect(closing[0]).toMatch(/MLFLOW_TRACKING_URI/);
    expect(closing[0]).toContain(spool);
    expect(fs.readdirSync(spool).filter((n) => n.endsWith('.spool.jsonl')).length).toBeGreaterThan(0);
  });

  it('a GPU requested where there is none', () => {
    if (fs.existsSync('/dev/nvidia0')) return; // a GPU machine cannot show this error
    const r = searchCli(['run', '--space', 'demo', '--configuration', 'smoke', '--storage', 'memory', '--tracking', 'none', '--device', 'gpu', '--no-report']);
    expect(r.status).not.toBe(0);
    expect(lastLine(r.stderr)).toBe('error: device gpu: no CUDA device found (no /dev/nvidia0); use --device cpu or auto on this machine');
  });

  it('a study name that exists with another search space', () => {
    const journal = `journal:${path.join(tmp, 'studies.journal')}`;
    const first = searchCli(['run', '--space', 'toy', '--study', 'shared-name', '--trials', '1', '--storage', journal, '--tracking', 'none', '--no-report']);
    expect(first.status).toBe(0);
    const r = searchCli(['run', '--space', 'demo', '--study', 'shared-name', '--trials', '1', '--storage', journal, '--tracking', 'none', '--no-report']);
    expect(r.status).not.toBe(0);
    expect(lastLine(r.stderr)).toMatch(/^error: study "shared-name" .*(another|different) search space.*--study/);
  });
});
