/**
 * The golden fixture (golden-trace.json) and comparisons of traces, without TensorFlow: what the
 * table and --verify read. golden.ts computes the traces.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const GOLDEN_FILE = path.join(__dirname, 'golden-trace.json');

export interface CaseTrace {
  /** every optimisation step in order: stage, epoch, step, loss (float32 values, exact in JSON) */
  steps: Array<[number, number, number, number]>;
  /** sha256 of the saved model's weights.bin (every network variable, float32, in store order) */
  weightsSha256: string;
  top1: number;
}

export interface GoldenTrace {
  fingerprint: string;
  cases: Record<string, CaseTrace>;
}

/** One machine kind's trace of the code (`machine.key`: see machine-kind.ts). */
export interface GoldenEntry extends GoldenTrace {
  machine: { key: string };
}

/** The committed fixture: the same code's trace on each machine kind it was traced on. */
export interface GoldenFixture {
  traces: GoldenEntry[];
}

/** Key of the trace written before machine kinds were recorded (2026-12-04, commit 04fca9f). */
export const UNRECORDED_KIND = 'unrecorded: the AMD EPYC (2 threads) of 2026-12-04, instruction sets not recorded';

/**
 * Relative loss difference allowed between machine kinds in the first stage-1 epoch: float32 rounding
 * of differently ordered sums (seen: up to 1.5e-5 in ICCL's third step), far below what a change of a
 * loss, an optimiser step or the data order does there. Later epochs drift apart chaotically (1e-2 by the
 * sixth step at batch 16), so they are compared only on the same kind.
 */
export const CROSS_KIND_TOL = 1e-4;

/** The fixture; the one-trace format of before machine kinds reads as that trace on UNRECORDED_KIND. */
export function readGoldenFixture(file = GOLDEN_FILE): GoldenFixture {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<GoldenFixture> & Partial<GoldenTrace>;
  if (Array.isArray(raw.traces)) return { traces: raw.traces };
  if (typeof raw.fingerprint === 'string' && raw.cases) return { traces: [{ machine: { key: UNRECORDED_KIND }, fingerprint: raw.fingerprint, cases: raw.cases }] };
  throw new Error(`${file}: expected { traces: [...] } (or the older { fingerprint, cases })`);
}

export function traceForKind(f: GoldenFixture, key: string): GoldenEntry | undefined {
  return f.traces.find((t) => t.machine.key === key);
}

export function traceWithFingerprint(f: GoldenFixture, fingerprint: string): GoldenEntry | undefined {
  return f.traces.find((t) => t.fingerprint === fingerprint);
}

/** Where two kinds' traces of what should be the same code differ by more than rounding (first stage-1 epoch). */
export function crossKindDifferences(want: GoldenTrace, got: GoldenTrace, tol = CROSS_KIND_TOL): string[] {
  const out: string[] = [];
  for (const id of new Set([...Object.keys(want.cases), ...Object.keys(got.cases)])) {
    const a = want.cases[id]?.steps.filter((s) => s[0] === 1 && s[1] === 0);
    const b = got.cases[id]?.steps.filter((s) => s[0] === 1 && s[1] === 0);
    if (!a || !b) {
      out.push(`${id}: ${a ? 'missing now' : 'not in the other trace'}`);
      continue;
    }
    if (a.length !== b.length) out.push(`${id}: ${a.length} first-epoch steps there, ${b.length} now`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const rel = Math.abs(a[i][3] - b[i][3]) / Math.max(1e-30, Math.abs(a[i][3]));
      if (!(rel <= tol)) {
        out.push(`${id}: first-epoch step ${i}: loss ${a[i][3]} there, ${b[i][3]} now (relative difference ${rel.toExponential(2)} > ${tol})`);
        break;
      }
    }
  }
  return out;
}

/** Where two traces differ, one line per difference (empty when they are identical). */
export function traceDifferences(want: GoldenTrace, got: GoldenTrace): string[] {
  const out: string[] = [];
  for (const id of new Set([...Object.keys(want.cases), ...Object.keys(got.cases)])) {
    const a = want.cases[id];
    const b = got.cases[id];
    if (!a || !b) {
      out.push(`${id}: ${a ? 'missing now' : 'not in the fixture'}`);
      continue;
    }
    if (a.steps.length !== b.steps.length) out.push(`${id}: ${a.steps.length} steps in the fixture, ${b.steps.length} now`);
    const n = Math.min(a.steps.length, b.steps.length);
    const first = [...Array(n).keys()].find((i) => a.steps[i].some((v, j) => v !== b.steps[i][j]));
    if (first !== undefined) {
      const [st, ep, sp, la] = a.steps[first];
      const maxRel = Math.max(...[...Array(n).keys()].map((i) => Math.abs(a.steps[i][3] - b.steps[i][3]) / Math.max(1e-30, Math.abs(a.steps[i][3]))));
      out.push(`${id}: first differs at stage ${st} epoch ${ep} step ${sp}: loss ${la} in the fixture, ${b.steps[first][3]} now (largest relative loss difference ${maxRel.toExponential(2)})`);
    }
    if (a.weightsSha256 !== b.weightsSha256) out.push(`${id}: final weights differ (sha256 ${a.weightsSha256.slice(0, 12)} in the fixture, ${b.weightsSha256.slice(0, 12)} now)`);
    if (a.top1 !== b.top1) out.push(`${id}: final top-1 ${a.top1} in the fixture, ${b.top1} now`);
  }
  return out;
}

/** The fixture after recording `got` for this kind: beside the others if they agree to rounding, else alone. */
export function recordTrace(f: GoldenFixture, got: GoldenTrace, key: string): { fixture: GoldenFixture; note: string } {
  const entry: GoldenEntry = { machine: { key }, ...got };
  const others = f.traces.filter((t) => t.machine.key !== key);
  const disagree = others.filter((t) => crossKindDifferences(t, got).length > 0);
  if (disagree.length === 0) return { fixture: { traces: [...others, entry] }, note: `${others.length} other kind(s) kept (they agree to rounding)` };
  return { fixture: { traces: [entry] }, note: `the code computes something else than the traces of ${disagree.map((t) => t.machine.key).join('; ')}: they are dropped` };
}

