import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { readJsonl } from '@iccl/trainer-api';

const CLI = path.join(__dirname, '../src/cli.ts');
const ROOT = path.join(__dirname, '../../..');

type Msg = { type: string; [k: string]: unknown };

/**
 * Plays the external tool: starts `iccl-run --protocol`, hands every message to `onMessage` (which
 * may answer on the runner's stdin), and returns the messages, the exit status and stderr.
 */
function drive(args: string[], onMessage: (m: Msg, answer: (x: unknown) => void, child: ReturnType<typeof spawn>) => void = () => {}, program?: string) {
  const argv = program ? args : ['--import', 'tsx', CLI, ...args];
  const child = spawn(program ?? process.execPath, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const msgs: Msg[] = [];
  const bad: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const answer = (x: unknown) => child.stdin!.write(JSON.stringify(x) + '\n');
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const m = JSON.parse(line) as Msg;
      msgs.push(m);
      onMessage(m, answer, child);
    } catch {
      bad.push(line);
    }
  });
  return new Promise<{ msgs: Msg[]; code: number | null; stderr: string; bad: string[] }>((resolve) =>
    child.on('close', (code) => resolve({ msgs, code, stderr, bad })),
  );
}

jest.setTimeout(120_000);

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'runner-protocol-'));

describe('iccl-run --protocol (external search tools)', () => {
  it('a complete trial: hello with the validated params, every report with its value, the result, exit 0, nothing else on stdout', async () => {
    const dir = tmp();
    const r = await drive(['@iccl/toy', '--protocol', '--wait-for-decision', '--report-metric', 'loss', '--set', 'x=1', '--set', 'y=-2', '--set', 'epochs=3', '--tracker', `jsonl:${dir}`, '--run-id', 't0', '--work-dir', dir], (m, answer) => {
      if (m.type === 'report') answer({ type: 'continue' });
    });
    expect(r.bad).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.msgs.map((m) => m.type)).toEqual(['hello', 'report', 'report', 'report', 'result']);
    expect(r.msgs[0]).toMatchObject({ protocol: 'iccl-trial/1', run: 't0', plugin: 'toy', params: { x: 1, y: -2, epochs: 3, noise: 0 }, workDir: path.join(dir, 't0') });
    // The toy's loss is (x-1)^2 + (y+2)^2 = 0 plus 10 * 0.5^epoch (see plugins/toy).
    expect(r.msgs.filter((m) => m.type === 'report').map((m) => [m.step, m.value])).toEqual([[1, 5], [2, 2.5], [3, 1.25]]);
    expect(r.msgs[4]).toMatchObject({ type: 'result', status: 'complete', value: 1.25, metrics: { loss: 1.25, target: 0 } });
  });

  it('with --wait-for-decision a prune answer stops the trial at that report: exit 3, the tracker run ends KILLED', async () => {
    const dir = tmp();
    let reports = 0;
    const r = await drive(['@iccl/toy', '--protocol', '--wait-for-decision', '--report-metric', 'loss', '--set', 'epochs=50', '--tracker', `jsonl:${dir}`, '--run-id', 'p', '--work-dir', dir], (m, answer) => {
      if (m.type === 'report') answer({ type: ++reports === 2 ? 'prune' : 'continue' });
    });
    expect(r.code).toBe(3);
    expect(r.msgs.filter((m) => m.type === 'report')).toHaveLength(2);
    expect(r.msgs[r.msgs.length - 1]).toMatchObject({ type: 'result', status: 'pruned', step: 2, checkpoint: path.join(dir, 'p', 'checkpoint') });
    const recs = readJsonl(path.join(dir, 'p.jsonl'));
    expect(recs[recs.length - 1]).toMatchObject({ kind: 'end', status: 'KILLED' });
  });

  it('without waiting, a prune line is obeyed at the next report', async () => {
    const dir = tmp();
    let sent = false;
    const r = await drive(['@iccl/toy', '--protocol', '--set', 'epochs=200', '--set', 'sleepMs=20', '--tracker', 'none', '--run-id', 'a', '--work-dir', dir], (m, answer) => {
      if (m.type === 'report' && !sent) {
        sent = true;
        answer({ type: 'prune' });
      }
    });
    expect(r.code).toBe(3);
    const reports = r.msgs.filter((m) => m.type === 'report');
    const result = r.msgs[r.msgs.length - 1]!;
    expect(result).toMatchObject({ type: 'result', status: 'pruned' });
    // It went on training after the first report, but stopped at a report, long before epoch 200.
    expect(result.step).toBe(reports[reports.length - 1]!.step);
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.length).toBeLessThan(200);
    expect(reports[0]).not.toHaveProperty('value');
  });

  it.each(['SIGUSR2', 'SIGUSR1'] as const)('%s to the pid of hello is a prune request too, and opens no inspector', async (sig) => {
    const dir = tmp();
    let signalled = false;
    const r = await drive(['@iccl/toy', '--protocol', '--set', 'epochs=200', '--set', 'sleepMs=20', '--tracker', 'none', '--run-id', 's', '--work-dir', dir], (m, _a, child) => {
      if (m.type === 'hello') expect(m.pid).toBe(child.pid);
      if (m.type === 'report' && !signalled) {
        signalled = true;
        child.kill(sig);
      }
    });
    expect(r.bad).toEqual([]); // a failed expect in the callback lands here
    expect(r.code).toBe(3);
    expect(r.msgs[r.msgs.length - 1]).toMatchObject({ type: 'result', status: 'pruned' });
    expect(r.stderr).not.toContain('Debugger listening');
  });

  it('through a shell wrapper (the trial is not the process the tool started): the signal to hello\'s pid prunes it, the wrapper exits 3', async () => {
    const dir = tmp();
    const args = ['@iccl/toy', '--protocol', '--set', 'epochs=200', '--set', 'sleepMs=20', '--tracker', 'none', '--run-id', 'w', '--work-dir', dir];
    let trialPid = 0;
    // No exec: bash stays the parent, as a wrapper script does.
    const r = await drive(['-c', `"${process.execPath}" --import tsx "${CLI}" "$@"; exit $?`, 'wrapper', ...args], (m, _a, child) => {
      if (m.type === 'hello') {
        trialPid = m.pid as number;
        expect(trialPid).not.toBe(child.pid);
      }
      if (m.type === 'report' && trialPid) {
        process.kill(trialPid, 'SIGUSR2');
        trialPid = 0;
      }
    }, 'bash');
    expect(r.bad).toEqual([]);
    expect(r.code).toBe(3);
    expect(r.msgs[r.msgs.length - 1]).toMatchObject({ type: 'result', status: 'pruned' });
  });

  it('a failing trial ends with status failed and exit 1; a bad parameter with exit 2; both as a result message', async () => {
    const dir = tmp();
    const failed = await drive(['@iccl/toy', '--protocol', '--set', 'epochs=5', '--set', 'failAtEpoch=2', '--tracker', 'none', '--run-id', 'f', '--work-dir', dir]);
    expect(failed.code).toBe(1);
    expect(failed.msgs[failed.msgs.length - 1]).toMatchObject({ type: 'result', status: 'failed' });
    const bad = await drive(['@iccl/toy', '--protocol', '--set', 'x=9', '--tracker', 'none', '--work-dir', dir]);
    expect(bad.code).toBe(2);
    expect(bad.msgs).toHaveLength(1);
    expect(bad.msgs[0]).toMatchObject({ type: 'result', status: 'failed' });
    expect(String(bad.msgs[0]!.error)).toMatch(/parameter "x": got 9, expected/);
  });

  it('the trackers of the plain runner work under the protocol too; an unknown one is a usage result', async () => {
    const dir = tmp();
    const r = await drive(['@iccl/toy', '--protocol', '--set', 'epochs=2', '--tracker', `tensorboard:${dir}`, '--run-id', 'tb', '--work-dir', dir]);
    expect(r.bad).toEqual([]);
    expect(r.code).toBe(0);
    const files = fs.readdirSync(dir, { recursive: true }).map(String);
    expect(files.some((f) => path.basename(f).startsWith('events.out.tfevents'))).toBe(true);
    const bad = await drive(['@iccl/toy', '--protocol', '--tracker', 'carrier-pigeon', '--work-dir', dir]);
    expect(bad.code).toBe(2);
    expect(bad.msgs).toEqual([{ type: 'result', status: 'failed', error: expect.stringContaining('--tracker: got "carrier-pigeon"') }]);
  });

  it('a line the runner does not understand is reported on stderr and ignored', async () => {
    const dir = tmp();
    const r = await drive(['@iccl/toy', '--protocol', '--wait-for-decision', '--set', 'epochs=2', '--tracker', 'none', '--run-id', 'u', '--work-dir', dir], (m, answer, child) => {
      if (m.type === 'report') {
        child.stdin!.write('stop please\n');
        answer({ type: 'continue' });
      }
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('protocol: ignored a line from the tool');
  });
});
