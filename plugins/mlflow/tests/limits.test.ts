import { LIMITS, splitBatches, checkKey, type Batch } from '../src/limits';
import { normalizeArtifactPath, encodeArtifactPath } from '../src/artifact-path';
import { redact, authorizationHeader, safeUri, credentialsFromEnv } from '../src/credentials';
import { int64, runInfoSchema, metricSchema } from '../src/schemas';
import { backoffMs } from '../src/backoff';

function batchOf(metrics: number, params: number, tags: number): Batch {
  return {
    metrics: Array.from({ length: metrics }, (_, i) => ({ key: `m${i % 10}`, value: i, timestamp: 1, step: Math.floor(i / 10) })),
    params: Array.from({ length: params }, (_, i) => ({ key: `p${i}`, value: 'v' })),
    tags: Array.from({ length: tags }, (_, i) => ({ key: `t${i}`, value: 'v' })),
  };
}

describe('splitBatches', () => {
  test('respects per-kind and total counts and keeps every item once, in order', () => {
    const input = batchOf(2500, 250, 150);
    const out = splitBatches(input);
    for (const b of out) {
      expect(b.metrics.length).toBeLessThanOrEqual(LIMITS.metricsPerBatch);
      expect(b.params.length).toBeLessThanOrEqual(LIMITS.paramsPerBatch);
      expect(b.tags.length).toBeLessThanOrEqual(LIMITS.tagsPerBatch);
      expect(b.metrics.length + b.params.length + b.tags.length).toBeLessThanOrEqual(LIMITS.itemsPerBatch);
    }
    expect(out.flatMap((b) => b.metrics)).toEqual(input.metrics);
    expect(out.flatMap((b) => b.params)).toEqual(input.params);
    expect(out.flatMap((b) => b.tags)).toEqual(input.tags);
    // 250 params need 3 batches, 150 tags 2, 2500 metrics 3 (plus what fits alongside): at least 3.
    expect(out.length).toBeGreaterThanOrEqual(3);
  });

  test('splits on the 1 MB body size, not only on counts', () => {
    const big = 'x'.repeat(5000);
    const input: Batch = { metrics: [], params: Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: big })), tags: Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: big + big })) };
    const out = splitBatches(input);
    for (const b of out) expect(Buffer.byteLength(JSON.stringify({ run_id: 'x'.repeat(32), ...b }))).toBeLessThanOrEqual(LIMITS.batchBytes);
    // 100*5 KB + 100*10 KB = 1.5 MB cannot fit one request.
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out.flatMap((b) => b.tags).length).toBe(100);
  });

  test('empty input gives no request', () => {
    expect(splitBatches({ metrics: [], params: [], tags: [] })).toEqual([]);
  });

  test('keys longer than 250 chars are refused with the limit named', () => {
    expect(checkKey('param', 'a'.repeat(250))).toBeUndefined();
    expect(checkKey('param', 'a'.repeat(251))).toMatch(/251 chars; MLflow allows at most 250/);
    expect(checkKey('metric', '')).toMatch(/empty/);
  });
});

describe('normalizeArtifactPath', () => {
  test.each([
    [undefined, ''],
    ['', ''],
    ['.', ''],
    ['a/b/', 'a/b'],
    ['./a//b', 'a/b'],
    ['a/./b/../c', 'a/c'],
    ['a\\b', 'a/b'],
  ])('%p -> %p', (input, expected) => expect(normalizeArtifactPath(input)).toBe(expected));

  test.each(['..', '../x', 'a/../../x', '/etc', 'C:/x', 'a\0b', '..\\..\\x'])('refuses %p', (p) => {
    expect(() => normalizeArtifactPath(p)).toThrow(/artifact path/);
  });

  test('URL-encodes each segment', () => {
    expect(encodeArtifactPath('a b/c#d')).toBe('a%20b/c%23d');
  });
});

describe('credentials', () => {
  test('basic header is base64 of user:password; bearer when only a token', () => {
    expect(authorizationHeader({ username: 'u', password: 'p' })).toBe('Basic ' + Buffer.from('u:p').toString('base64'));
    expect(authorizationHeader({ token: 'tok123' })).toBe('Bearer tok123');
    expect(authorizationHeader({})).toBeUndefined();
  });

  test('redact removes password, token, header and URL userinfo', () => {
    const c = { username: 'alice', password: 's3cret!', token: 'tkn-abcdef' };
    const b64 = Buffer.from('alice:s3cret!').toString('base64');
    const text = `http://alice:s3cret!@h:5000 s3cret! tkn-abcdef Basic ${b64}`;
    const out = redact(text, c);
    expect(out).not.toMatch(/s3cret|tkn-abcdef/);
    expect(out).not.toContain(b64);
    expect(safeUri('https://bob:pw@h.example:1/x')).toBe('https://h.example:1/x');
  });

  test('env: MLFLOW_TRACKING_INSECURE_TLS true/1 turns checks off, anything else keeps them', () => {
    expect(credentialsFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: 'true' }).insecureTls).toBe(true);
    expect(credentialsFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: '1' }).insecureTls).toBe(true);
    expect(credentialsFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: 'false' }).insecureTls).toBe(false);
    expect(credentialsFromEnv({}).insecureTls).toBe(false);
  });
});

describe('int64 parsing', () => {
  test('numbers and decimal strings give the same number', () => {
    expect(int64.parse(1700000000123)).toBe(1700000000123);
    expect(int64.parse('1700000000123')).toBe(1700000000123);
    expect(int64.parse('-5')).toBe(-5);
    expect(() => int64.parse('12.5')).toThrow();
    expect(() => int64.parse('abc')).toThrow();
  });

  test('in a run info and a metric', () => {
    const info = runInfoSchema.parse({ run_id: 'r', experiment_id: '1', status: 'RUNNING', start_time: '42', end_time: 43 });
    expect(info.start_time).toBe(42);
    expect(info.end_time).toBe(43);
    const m = metricSchema.parse({ key: 'k', value: 'NaN', timestamp: '7', step: '9' });
    expect(m.step).toBe(9);
    expect(Number.isNaN(m.value)).toBe(true);
    expect(metricSchema.parse({ key: 'k', value: '-Infinity', timestamp: 1 }).value).toBe(-Infinity);
  });
});

describe('backoff', () => {
  test('doubles per attempt within ±25 % and stops at the cap', () => {
    const p = { attempts: 5, baseMs: 100, maxMs: 1000 };
    expect(backoffMs(0, p, () => 0.5)).toBe(100);
    expect(backoffMs(3, p, () => 0.5)).toBe(800);
    expect(backoffMs(6, p, () => 0.5)).toBe(1000);
    expect(backoffMs(2, p, () => 0)).toBe(300);
    expect(backoffMs(2, p, () => 1)).toBe(500);
  });
});
