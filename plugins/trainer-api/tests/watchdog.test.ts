// The watchdog, judged from outside: a parent guards two child process groups (each with a
// grandchild), is SIGKILLed, and no process of those groups survives; nor does the watchdog.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '../src/watchdog.ts');
const REPO = path.resolve(__dirname, '../../..');

/** Alive and not a zombie (a dead child not yet reaped by its new parent counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

// The parent: two detached `sh` groups, each running a `sleep` grandchild; it prints every pid, then waits.
const PARENT = `
const { spawn } = require('node:child_process');
const { endWithThisProcess, watchdogPid } = require(process.argv[1]);
const pids = [];
for (let i = 0; i < 2; i++) {
  const c = spawn('sh', ['-c', 'sleep 300 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  endWithThisProcess(c.pid);
  c.stdout.once('data', (d) => {
    pids.push(c.pid, Number(String(d).trim()));
    if (pids.length === 4) console.log(JSON.stringify({ pids, dog: watchdogPid() }));
  });
}
setInterval(() => {}, 1000);
`;

describe('endWithThisProcess (watchdog)', () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('ends the guarded groups when the parent dies by %s, within 10 s', async (sig) => {
    const parent = spawn(process.execPath, ['--import', 'tsx', '-e', PARENT, SRC], { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      parent.on('exit', (code) => reject(new Error(`parent exited early (${code})`)));
    });
    const { pids, dog } = JSON.parse(line) as { pids: number[]; dog: number };
    expect(pids.every(alive)).toBe(true);
    expect(alive(dog)).toBe(true);
    parent.kill(sig);
    expect(await until(() => !pids.some(alive) && !alive(dog), 10_000)).toBe(true);
  }, 30_000);

  it('does not keep its process alive, and rejects a bad pid with one line', async () => {
    const { endWithThisProcess } = await import('../src/watchdog');
    expect(() => endWithThisProcess(0)).toThrow('endWithThisProcess: got pid 0, expected a child\'s pid');
    const quick = spawn(process.execPath, ['--import', 'tsx', '-e', `const { spawn } = require('node:child_process'); const c = spawn('sleep', ['0.2'], { detached: true, stdio: 'ignore' }); require(process.argv[1]).endWithThisProcess(c.pid);`, SRC], { stdio: 'ignore', cwd: REPO });
    const code = await new Promise<number | null>((r) => quick.on('exit', r));
    expect(code).toBe(0); // it exited by itself once the child had, watchdog or not
  }, 30_000);
});
