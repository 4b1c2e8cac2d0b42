import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonlTrackingBackend, readJsonl } from '../src';

describe('JSON-lines tracker', () => {
  it('writes every call as one line, readable back in order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jsonl-'));
    const backend = new JsonlTrackingBackend(dir);
    const t = await backend.startRun({ name: 'trial 1', tags: { a: 'b' } });
    t.logParams({ lr: 0.1 });
    t.logMetrics({ loss: 1.5 }, 3);
    const art = path.join(dir, 'note.txt');
    fs.writeFileSync(art, 'hello');
    await t.logArtifact(art, 'notes');
    await t.end('FINISHED');
    const recs = readJsonl(path.join(dir, `${t.runId}.jsonl`));
    expect(recs.map((r) => r.kind)).toEqual(['start', 'tags', 'params', 'metrics', 'artifact', 'end']);
    expect(recs[3]).toMatchObject({ kind: 'metrics', metrics: { loss: 1.5 }, step: 3 });
    expect(fs.readFileSync(path.join(dir, `${t.runId}.artifacts`, 'notes', 'note.txt'), 'utf8')).toBe('hello');
  });

  it('tolerates a truncated last line but not a corrupt middle one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jsonl-'));
    const f = path.join(dir, 'r.jsonl');
    fs.writeFileSync(f, '{"kind":"params","params":{},"time":1}\n{"kind":"met');
    expect(readJsonl(f)).toHaveLength(1);
    fs.writeFileSync(f, '{"kind":"par\n{"kind":"params","params":{},"time":1}\n');
    expect(() => readJsonl(f)).toThrow(/r\.jsonl:1: not valid JSON/);
  });
});
