import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CROSS_KIND_TOL, traceWithFingerprint, type GoldenFixture } from './golden-fixture';
import { thisMachineKind } from './machine-kind';
import { unitName, unitsOf, type MethodsProtocol } from './protocol';
import type { UnitTrainer } from './harness';
import { readResult } from './result';

type Value = string | number | boolean;

export interface VerifyOutcome {
  unit: string;
  /**
   * match: every recorded step re-computed bit for bit; no-record: the result has no first-epoch losses;
   * other-kind: recorded on another machine kind, where bits differ, and the first steps agree to rounding
   */
  status: 'match' | 'mismatch' | 'no-record' | 'other-kind';
  steps: number;
  /** steps whose loss differs, and the first of them */
  differing: number;
  firstDiff?: { step: number; recorded: number; now: number };
  /** parameters whose validated value now differs from the recorded one (new defaults, renamed ones) */
  paramsChanged: string[];
  fingerprint: { recorded: string | null; now: string };
  /** machine kinds, when the unit's differs from this one's */
  kinds?: { recorded: string; now: string; firstStepsMaxRel: number };
}

/** Steps compared to rounding across machine kinds: the first ones, before float32 drift compounds. */
const CROSS_KIND_STEPS = 3;

function changedParams(recorded: Record<string, Value>, now: Record<string, Value>): string[] {
  const keys = [...new Set([...Object.keys(recorded), ...Object.keys(now)])].sort();
  return keys.filter((k) => recorded[k] !== now[k]).map((k) => `${k}: ${JSON.stringify(recorded[k])} -> ${JSON.stringify(now[k])}`);
}

/** The first-epoch losses of `unit` as the current code computes them (stopped after that epoch). */
async function recompute(trainer: UnitTrainer, plugin: string, params: Record<string, Value>, unit: string, count: number): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iccl-verify-${unit}-`));
  const ac = new AbortController();
  const losses: number[] = [];
  const ctx = trainer.context(unit, dir, path.join(dir, 'metrics.jsonl'), ac.signal, (s) => {
    if (s.stage === 1 && s.epoch === 0) losses.push(s.loss);
    if (losses.length >= count || s.stage !== 1 || s.epoch > 0) ac.abort();
  });
  try {
    await trainer.train(plugin, params, ctx);
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return losses;
}

/**
 * Re-runs the first stage-1 epoch of a finished unit on the current code and compares its per-step
 * losses with what the unit recorded, bit for bit (same kind of machine, same threads).
 */
export async function verifyUnit(o: {
  protocol: MethodsProtocol;
  outDir: string;
  trainer: UnitTrainer;
  unit: string;
  fingerprint: string;
  fixture: GoldenFixture;
  machine?: string;
}): Promise<VerifyOutcome> {
  const u = unitsOf(o.protocol).find((x) => unitName(x) === o.unit);
  if (!u) throw new Error(`--verify ${o.unit}: no such unit in protocol ${o.protocol.name} (units: ${unitsOf(o.protocol).map(unitName).join(', ')})`);
  const file = path.join(o.outDir, o.protocol.name, `${o.unit}.json`);
  const r = readResult(file);
  if (!r) throw new Error(`--verify ${o.unit}: ${file} does not exist (the unit has not finished)`);
  const params = o.trainer.params(u.method.plugin, { ...o.protocol.params, ...(u.method.set ?? {}), seed: u.seed });
  const base = { unit: o.unit, paramsChanged: changedParams(r.params, params), fingerprint: { recorded: r.goldenFingerprint ?? null, now: o.fingerprint } };
  const want = r.firstEpochLosses;
  if (!want || want.length === 0) return { ...base, status: 'no-record', steps: 0, differing: 0 };
  const got = await recompute(o.trainer, u.method.plugin, params, o.unit, want.length);
  const differs = want.map((v, i) => got[i] !== v);
  const first = differs.indexOf(true);
  const differing = differs.filter(Boolean).length;
  const exact = differing === 0 && got.length === want.length;
  const here = o.machine ?? thisMachineKind().key;
  const then = r.machine ?? (r.goldenFingerprint ? traceWithFingerprint(o.fixture, r.goldenFingerprint)?.machine.key : undefined);
  let kinds: VerifyOutcome['kinds'];
  if (!exact && then !== undefined && then !== here) {
    const n = Math.min(CROSS_KIND_STEPS, want.length, got.length);
    const rel = [...Array(n).keys()].map((i) => Math.abs(got[i] - want[i]) / Math.max(1e-30, Math.abs(want[i])));
    kinds = { recorded: then, now: here, firstStepsMaxRel: n ? Math.max(...rel) : Infinity };
  }
  return {
    ...base,
    status: exact ? 'match' : kinds && kinds.firstStepsMaxRel <= CROSS_KIND_TOL ? 'other-kind' : 'mismatch',
    ...(kinds ? { kinds } : {}),
    steps: want.length,
    differing,
    ...(first >= 0 ? { firstDiff: { step: first, recorded: want[first], now: got[first] } } : {}),
  };
}

/** One or two lines for a person. */
export function describeOutcome(v: VerifyOutcome): string {
  const fp = v.fingerprint.recorded === v.fingerprint.now ? `golden fingerprint ${v.fingerprint.now} (same)` : `golden fingerprint ${v.fingerprint.recorded ?? 'not recorded'} then, ${v.fingerprint.now} now`;
  const params = v.paramsChanged.length ? `; parameters changed since: ${v.paramsChanged.join(', ')}` : '';
  if (v.status === 'no-record') return `${v.unit}: CANNOT VERIFY: its result records no first-epoch losses (written by older code)${params}`;
  if (v.status === 'match') return `${v.unit}: MATCH: the ${v.steps} steps of its first epoch re-computed bit for bit; ${fp}${params}`;
  const k = v.kinds;
  const kinds = k ? `; recorded on ${k.recorded}, running on ${k.now}: bit-exact holds only on the same kind; its first ${CROSS_KIND_STEPS} steps differ here by at most ${k.firstStepsMaxRel.toExponential(1)} (relative)` : '';
  if (v.status === 'other-kind') return `${v.unit}: OTHER MACHINE KIND: not verifiable bit for bit here, consistent to rounding (<= ${CROSS_KIND_TOL})${kinds}; ${fp}${params}`;
  const d = v.firstDiff;
  const where = d ? `first at step ${d.step}: recorded ${d.recorded}, now ${d.now}` : 'fewer steps now';
  return `${v.unit}: MISMATCH: ${v.differing} of ${v.steps} first-epoch steps differ (${where})${kinds}; ${fp}${params}`;
}
