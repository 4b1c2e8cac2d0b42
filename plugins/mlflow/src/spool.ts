import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pidAlive } from '@iccl/trainer-api';
import { readRecords, type JournalRecord } from './records';

/** Spool files end so; one per tracker instance and outage: <run key>.<instance>.spool.jsonl. */
export const SPOOL_SUFFIX = '.spool.jsonl';

/** Spool files that trackers of this process still write or replay (everything else here is an orphan). */
export const liveSpools = new Set<string>();

export function spoolOwner(): { pid: number; host: string } {
  return { pid: process.pid, host: os.hostname() };
}

export interface OrphanSpool {
  file: string;
  /** Key of the run the file opens, and of its parent when the parent was not on the server yet. */
  key: string;
  parentKey?: string;
  created: number;
}

/**
 * Spool files in `dir` that no live process writes any more: their owner (recorded in the header)
 * is a dead process on this host, or, for a file from another host, it has not changed for an hour.
 * Files of this process are never orphans (their trackers replay them). Ordered parents first,
 * then oldest first, so a replay finds every parent on the server before its children.
 */
export function orphanSpools(dir: string, now = Date.now()): { orphans: OrphanSpool[]; unreadable: { file: string; error: string }[] } {
  const orphans: OrphanSpool[] = [];
  const unreadable: { file: string; error: string }[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { orphans, unreadable };
  }
  const host = os.hostname();
  for (const name of names) {
    if (!name.endsWith(SPOOL_SUFFIX)) continue;
    const file = path.join(dir, name);
    let recs: { line: number; record: JournalRecord }[];
    try {
      recs = readRecords(file);
    } catch (e) {
      unreadable.push({ file, error: (e as Error).message });
      continue;
    }
    const head = recs[0]?.record;
    const run = recs[1]?.record;
    if (!head || head.op !== 'header' || !run || run.op !== 'run') {
      // A file cut before its first records were complete holds nothing to replay.
      if (recs.length <= 1) fs.rmSync(file, { force: true });
      else unreadable.push({ file, error: `${file}: expected a header and a run record first` });
      continue;
    }
    const owner = head.owner;
    if (owner?.host === host && owner.pid === process.pid) {
      if (liveSpools.has(path.resolve(file))) continue;
    } else if (owner && owner.host === host && pidAlive(owner.pid)) continue;
    if (owner && owner.host !== host && now - fs.statSync(file).mtimeMs < 3_600_000) continue;
    orphans.push({ file, key: run.key, parentKey: run.parentKey, created: head.created });
  }
  const keys = new Set(orphans.map((o) => o.key));
  const depth = (o: OrphanSpool): number => (o.parentKey && keys.has(o.parentKey) ? 1 : 0);
  orphans.sort((a, b) => depth(a) - depth(b) || a.created - b.created);
  return { orphans, unreadable };
}

/** Deletes a spool file that is on the server now, with the artifact copies it kept under `spoolDir`. */
export function removeReplayedSpool(file: string, spoolDir: string): void {
  const root = path.resolve(spoolDir) + path.sep;
  let recs: { record: JournalRecord }[] = [];
  try {
    recs = readRecords(file);
  } catch {
    /* unreadable now: still remove it, it was replayed */
  }
  const emptied = new Set<string>();
  for (const { record } of recs) {
    if (record.op !== 'artifact') continue;
    const copy = path.resolve(path.dirname(file), record.file);
    // Only the per-artifact folders the spool made (<key>.files/spooled/<uuid>/), never a user's file.
    const spooled = path.dirname(path.dirname(copy));
    if (!copy.startsWith(root) || path.basename(spooled) !== 'spooled') continue;
    fs.rmSync(path.dirname(copy), { recursive: true, force: true });
    emptied.add(spooled);
  }
  fs.rmSync(file, { force: true });
  // The folders that held those copies go too once nothing else is in them (<key>.files/spooled/, <key>.files/).
  for (const dir of emptied) if (removeIfEmpty(dir)) removeIfEmpty(path.dirname(dir));
}

function removeIfEmpty(dir: string): boolean {
  try {
    fs.rmdirSync(dir); // fails on a folder that holds anything
    return true;
  } catch {
    return false;
  }
}
