import * as fs from 'node:fs';
import * as path from 'node:path';
import { MlflowClient } from '../src/client';
import { MlflowTrackingBackend } from '../src/backend';
import { freePort } from '../src/local-server';
import type { MlflowTracker } from '../src/tracker';
import { FAST_RETRY, mainClient, recordingLogger, tmpDir, uniqueName } from './support/env';

/** Every folder under `dir` (itself excluded) that holds nothing. */
function emptyFolders(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = path.join(dir, e.name);
    if (fs.readdirSync(p).length === 0) out.push(p);
    else out.push(...emptyFolders(p));
  }
  return out;
}

describe('a replayed spool', () => {
  test('leaves no empty folders behind (the artifact copies and the folders that held them are gone)', async () => {
    const spoolDir = tmpDir('cleanup');
    const experimentName = uniqueName('cleanup');
    const fast = { flushIntervalMs: 100, retry: FAST_RETRY, probeIntervalMs: 300, waitMs: 300, startWaitMs: 300, closeGraceMs: 200 };
    // First process: the server is away for its whole life; the artifact is copied into the spool.
    const away = new MlflowClient({ trackingUri: `http://127.0.0.1:${await freePort()}`, credentials: {}, timeoutMs: 1000 });
    const a = new MlflowTrackingBackend({ client: away, experimentName, spoolDir, logger: recordingLogger(), handleSigint: false, tracker: fast });
    const t = (await a.startRun({ name: 'with-artifact' })) as MlflowTracker;
    const art = path.join(tmpDir('cleanup-art'), 'ckpt.txt');
    fs.writeFileSync(art, 'during the outage');
    await t.logArtifact(art, 'ckpt');
    await t.end('FINISHED');
    await a.close();
    expect(fs.readdirSync(path.join(spoolDir, `${t.runKey}.files`, 'spooled'))).toHaveLength(1);

    // Next start, with the server there: it replays the spool and removes what the replay emptied.
    const client = mainClient();
    const b = new MlflowTrackingBackend({ client, experimentName, spoolDir, logger: recordingLogger(), handleSigint: false, tracker: { ...fast, closeGraceMs: 60_000 } });
    expect(b.pendingSpools).toHaveLength(1);
    await b.close();
    expect(b.pendingSpools).toEqual([]);
    expect(fs.readdirSync(spoolDir)).toEqual([]); // tmpDir made the folder: no .gitignore was added
    expect(emptyFolders(spoolDir)).toEqual([]);
    const runs = (await client.searchRuns({ experimentIds: [await b.experimentId()] })).runs;
    expect(runs.map((r) => `${r.info.run_name}:${r.info.status}`)).toEqual(['with-artifact:FINISHED']);
    expect(await client.downloadArtifactText(runs[0].info.artifact_uri, 'ckpt/ckpt.txt')).toBe('during the outage');
  });
});
