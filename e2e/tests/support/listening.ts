/**
 * Who listens on a TCP port, from /proc (Linux): the LISTEN sockets of /proc/net/tcp and tcp6 mapped to
 * the processes that hold them (/proc/PID/fd), so a test can ask whether a given process tree opened one.
 */
import * as fs from 'node:fs';

/** inode -> port of every listening TCP socket on the machine. */
function listeningSockets(): Map<string, number> {
  const m = new Map<string, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A') m.set(cols[9]!, parseInt(cols[1]!.split(':').pop()!, 16));
    }
  }
  return m;
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      // The command name (2nd field) may hold spaces: the parent pid is the 2nd field after its ')'.
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** The ports these processes listen on. */
export function portsListenedBy(pids: number[]): number[] {
  const sockets = listeningSockets();
  const ports: number[] = [];
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode && sockets.has(inode)) ports.push(sockets.get(inode)!);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return ports.sort((a, b) => a - b);
}
