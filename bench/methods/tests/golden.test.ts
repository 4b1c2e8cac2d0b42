import { computeGoldenTrace, GOLDEN_CASES, readGoldenTrace, traceCase, traceDifferences, type GoldenTrace } from '../golden';

jest.setTimeout(180_000);

describe('golden trace of the shipped training code', () => {
  let now: GoldenTrace;
  beforeAll(async () => {
    now = await computeGoldenTrace();
  });

  it('equals the committed fixture bit for bit (a change that alters it re-writes the fixture and says so)', () => {
    const want = readGoldenTrace();
    expect(traceDifferences(want, now)).toEqual([]);
    expect(now.fingerprint).toBe(want.fingerprint);
  });

  it('covers CE, cRT stage 2, mixup and ICCL with real steps', () => {
    expect(Object.keys(now.cases).sort()).toEqual(['ce', 'crt', 'iccl', 'mixup']);
    for (const c of Object.values(now.cases)) {
      expect(c.steps.length).toBeGreaterThanOrEqual(6);
      expect(c.steps.every((s) => Number.isFinite(s[3]) && s[3] > 0)).toBe(true);
    }
    // cRT's trace has its stage-2 steps, and its stage 1 is CE's stage 1 (same seed and data).
    expect(now.cases.crt.steps.filter((s) => s[0] === 2).length).toBe(3);
    expect(now.cases.crt.steps.slice(0, 6)).toEqual(now.cases.ce.steps);
    // mixup and ICCL compute something else than CE from the same start.
    expect(now.cases.mixup.steps[0][3]).not.toBe(now.cases.ce.steps[0][3]);
    expect(now.cases.iccl.steps[0][3]).not.toBe(now.cases.ce.steps[0][3]);
  });

  it('is deterministic: the same seed twice gives identical per-step losses and weights', async () => {
    const again = await traceCase(GOLDEN_CASES.find((c) => c.id === 'iccl')!);
    expect(again).toEqual(now.cases.iccl);
  });

  it('reports where a trace differs', () => {
    const bent: GoldenTrace = JSON.parse(JSON.stringify(now));
    bent.cases.ce.steps[4][3] += 1e-6;
    bent.cases.mixup.weightsSha256 = '0'.repeat(64);
    const d = traceDifferences(now, bent);
    expect(d).toHaveLength(2);
    expect(d[0]).toMatch(/^ce: first differs at stage 1 epoch 1 step 1: loss/);
    expect(d[1]).toMatch(/^mixup: final weights differ/);
  });
});
