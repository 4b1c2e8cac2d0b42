import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { MlflowClient } from '../src/client';
import { MlflowTrackingBackend } from '../src/backend';
import { freePort } from '../src/local-server';
import { readRecords } from '../src/records';
import type { MlflowTracker } from '../src/tracker';
import { FAST_RETRY, recordingLogger, tmpDir, uniqueName } from './support/env';
import { mountTinyDisk, unmountTinyDisk } from '../../../tools/faults/tiny-disk';

describe('spool on a full disk', () => {
  const dir = tmpDir('full');
  let mounted = false;
  afterAll(() => {
    if (mounted) unmountTinyDisk(dir);
  });

  test('one clear error naming the path; nothing written is lost or torn; the rest is spooled once there is room', async () => {
    mountTinyDisk(dir, '64k');
    mounted = true;
    const spoolDir = path.join(dir, 'spool');
    const port = await freePort(); // nothing listens: the server is down for the whole test
    const client = new MlflowClient({ trackingUri: `http://127.0.0.1:${port}`, credentials: {}, timeoutMs: 2000 });
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('full'), spoolDir, logger, handleSigint: false, tracker: { flushIntervalMs: 50, retry: FAST_RETRY, probeIntervalMs: 60_000, waitMs: 500, closeGraceMs: 100 } });
    const t = (await backend.startRun({ name: 'trial' })) as MlflowTracker;
    const STEPS = 3000; // ~100 bytes a point: well over 64 KiB
    for (let s = 0; s < STEPS; s++) {
      t.logMetrics({ loss: 1 / (s + 1) }, s, 1_700_000_000_000 + s);
      if (s % 500 === 499) await t.flush();
    }
    await t.flush();
    const errors = logger.lines.filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(spoolDir);
    expect(errors[0]).toMatch(/no space left on device \(ENOSPC\)/);
    expect(t.inMemory).toBeGreaterThan(0); // what did not fit waits in memory, in order
    const files = () => fs.readdirSync(spoolDir).filter((n) => n.endsWith('.spool.jsonl')).map((n) => path.join(spoolDir, n));
    const steps = () => files().flatMap((f) => readRecords(f)).flatMap((r) => (r.record.op === 'batch' ? r.record.metrics.map((m) => m.step) : []));
    const onDisk = steps(); // readRecords throws on a torn line anywhere but the last
    expect(onDisk.length).toBeGreaterThan(0);
    expect(onDisk).toEqual(Array.from({ length: onDisk.length }, (_, s) => s)); // a prefix, in order, once each

    execFileSync('mount', ['-o', 'remount,size=4m', dir]);
    await t.end('FINISHED');
    await backend.close();
    expect(t.inMemory).toBe(0);
    expect(steps()).toEqual(Array.from({ length: STEPS }, (_, s) => s));
    expect(logger.lines.filter((l) => l.startsWith('error:'))).toHaveLength(1);
  });
});
