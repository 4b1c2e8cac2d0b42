/**
 * A watchdog that ends child process groups when this process ends, however it ends: a normal exit,
 * a crash, SIGKILL or the OOM killer. No signal handler can do that (SIGKILL runs none), so the
 * watchdog is a small separate process: it holds a pipe from this one and notices at once when the
 * pipe closes (the kernel closes it when this process is gone), and it also polls its parent pid.
 * Then it sends SIGTERM to every group it guards, and SIGKILL to what is left after a grace period.
 *
 * A guarded child must lead its own process group (spawn/fork with `detached: true`), so that what
 * it started dies with it. One watchdog serves the whole process (trial processes, a local server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** The watchdog's program (plain JavaScript for `node -e`, so it needs no file or loader). */
const PROGRAM = `
const parent = Number(process.argv[1]);
const graceMs = Number(process.argv[2]);
const groups = new Set();
let ending = false;
const signal = (g, sig) => {
  try { process.kill(-g, sig); return true; } catch (e) {
    if (e.code !== 'ESRCH') return true;
    try { process.kill(g, sig); return true; } catch { return false; }
  }
};
const end = () => {
  if (ending) return;
  ending = true;
  const left = [...groups].filter((g) => signal(g, 'SIGTERM'));
  if (!left.length) process.exit(0);
  setTimeout(() => { for (const g of left) signal(g, 'SIGKILL'); process.exit(0); }, graceMs);
};
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const g = Number(line.slice(1));
    if (!Number.isInteger(g) || g <= 1) continue;
    if (line[0] === '+') groups.add(g);
    else if (line[0] === '-') groups.delete(g);
  }
});
process.stdin.on('end', end);
process.stdin.on('error', end);
// A backup for the pipe (which closes at once): the parent pid, once a second.
setInterval(() => { if (process.ppid !== parent) end(); }, 1000);
`;

let dog: ChildProcess | null = null;

function watchdog(): ChildProcess | null {
  if (dog && dog.exitCode === null && dog.signalCode === null && dog.stdin?.writable) return dog;
  // A small heap: it holds a set of pids.
  const child = spawn(process.execPath, ['--max-old-space-size=32', '-e', PROGRAM, String(process.pid), String(GRACE_MS)], {
    // Its own group and session: a Ctrl-C or a kill of this process's group must not reach it.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: process.env.PATH ?? '' },
  });
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  // It must never keep this process alive.
  child.unref();
  (child.stdin as Socket).unref();
  dog = child;
  return child;
}

/** Ms between the SIGTERM and the SIGKILL the watchdog sends. */
const GRACE_MS = 3000;

/**
 * Ends process group `pid` (a child spawned with `detached: true`) when this process ends. Returns a
 * release, to call once the child has exited by itself (so a reused pid is never hit).
 */
export function endWithThisProcess(pid: number): () => void {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`endWithThisProcess: got pid ${pid}, expected a child's pid`);
  const d = watchdog();
  d?.stdin?.write(`+${pid}\n`);
  return () => {
    if (d && d === dog && d.stdin?.writable) d.stdin.write(`-${pid}\n`);
  };
}

/** The watchdog's pid (null before the first endWithThisProcess), so tests can check it ends too. */
export function watchdogPid(): number | null {
  return dog?.pid ?? null;
}

/** Whether a process with this id exists on this host (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
