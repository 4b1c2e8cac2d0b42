import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonl, type Logger, type StepRecord, type TrialContext, type TrialResult } from '@iccl/trainer-api';
import { FirstEpochRecorder } from './first-epoch';
import { unitName, unitsOf, type MethodsProtocol, type Unit } from './protocol';
import { parsePerClassCsv, readResult, writeResult, type StageResult, type UnitResult } from './result';

type Value = string | number | boolean;

/** What the harness needs from the training side (the real plugins, or a fake in tests). */
export interface UnitTrainer {
  /** the validated parameter set of a plugin (throws on a bad value) */
  params(plugin: string, raw: Record<string, Value>): Record<string, Value>;
  train(plugin: string, params: Record<string, Value>, ctx: TrialContext): Promise<TrialResult>;
  /** the context the unit's training runs in (tracker writing `metricsFile`, `onStep` seeing every step) */
  context(unit: string, workDir: string, metricsFile: string, signal: AbortSignal, onStep?: (s: StepRecord) => void): TrialContext;
  versions(plugin: string): Record<string, string>;
}

export interface HarnessOptions {
  protocol: MethodsProtocol;
  /** the protocol file's text (its sha256 goes into every result; a changed file is refused) */
  protocolText: string;
  /** results go to `<outDir>/<protocol>/<unit>.json` */
  outDir: string;
  /** per-unit training folders (checkpoints; resumed from) */
  workDir: string;
  trainer: UnitTrainer;
  /** commits a result file; `done` units are passed again so that a crash before the commit heals */
  commit: (file: string, message: string) => void;
  code: { sha: string; dirty: boolean };
  /** the golden-trace fingerprint of the running code (golden.ts), recorded in every result */
  fingerprint: string;
  /** the machine kind it ran on (machine-kind.ts): bit-exact comparisons hold within one kind */
  machine?: string;
  log: Logger;
  signal?: AbortSignal;
  /** only these unit names (e.g. one seed), else all */
  only?: string[];
  now?: () => number;
}

export interface HarnessSummary {
  ran: string[];
  skipped: string[];
  /** units whose training threw (not an abort): logged, left without a result, the next unit runs */
  failed: string[];
}

export function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/**
 * Test accuracy, whichever names the trainer used: stage1_test/* at the end of stage 1 and test/* in the
 * result (trainers that select on validation), or eval/* (trainers from before validation splits, which
 * evaluated on test throughout). Each is one evaluation on the test split.
 */
const TEST_NAMES = { stage1: ['stage1_test/', 'eval/'], final: ['test/', 'eval/', ''] };

/** Top-1 and Many/Medium/Few on test from a stage's metrics (undefined where the trainer logged none). */
export function testAccuracy(m: Record<string, number>, at: keyof typeof TEST_NAMES): Omit<StageResult, 'perClass'> {
  const pick = (k: string) => TEST_NAMES[at].map((p) => m[p + k]).find((v) => typeof v === 'number') as number;
  return { top1: pick('top1'), many: pick('many'), medium: pick('medium'), few: pick('few') };
}

/** The stage-1 test metrics logged at `step` (the last such record: a resumed run may log an epoch twice). */
function evalAt(metricsFile: string, step: number): Record<string, number> | null {
  let found: Record<string, number> | null = null;
  for (const r of readJsonl(metricsFile)) if (r.kind === 'metrics' && r.step === step && TEST_NAMES.stage1.some((p) => `${p}top1` in r.metrics)) found = r.metrics;
  return found;
}

function stageOf(m: Record<string, number>, at: keyof typeof TEST_NAMES, csv: string): StageResult {
  return { ...testAccuracy(m, at), perClass: parsePerClassCsv(fs.readFileSync(csv, 'utf8'), csv) };
}

/** Attempts so far of a unit (one line per start), so wall time across interruptions is known. */
function recordAttempt(dir: string, now: number): { attempts: number; first: number } {
  const file = path.join(dir, 'attempts.jsonl');
  fs.appendFileSync(file, JSON.stringify({ start: now }) + '\n');
  const starts = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { start: number }).start);
  return { attempts: starts.length, first: starts[0] };
}

async function runUnit(o: HarnessOptions, u: Unit): Promise<UnitResult> {
  const name = unitName(u);
  const now = o.now ?? Date.now;
  const dir = path.join(o.workDir, o.protocol.name, name);
  fs.mkdirSync(dir, { recursive: true });
  const { attempts, first } = recordAttempt(dir, now());
  const params = o.trainer.params(u.method.plugin, { ...o.protocol.params, ...(u.method.set ?? {}), seed: u.seed });
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const firstEpoch = new FirstEpochRecorder(path.join(dir, 'first-epoch-losses.json'));
  const ctx = o.trainer.context(name, dir, metricsFile, o.signal ?? new AbortController().signal, (s) => firstEpoch.see(s));
  const t0 = now();
  const r = await o.trainer.train(u.method.plugin, params, ctx);
  const t1 = now();
  firstEpoch.close();
  const epochs = Number(params.epochs);
  const crt = Number(params.crtEpochs);
  const stage1Csv = path.join(dir, 'per_class_accuracy_stage1.csv');
  let stage1: UnitResult['stage1'] = null;
  if (crt > 0) {
    const m = evalAt(metricsFile, epochs);
    if (!m) throw new Error(`${metricsFile}: no evaluation at the end of stage 1 (step ${epochs})`);
    stage1 = { ...stageOf(m, 'stage1', stage1Csv), ...(u.method.stage1As ? { as: u.method.stage1As } : {}) };
  } else if (u.method.stage1As) {
    throw new Error(`method ${u.method.id}: stage1As needs a two-stage run (crtEpochs > 0)`);
  }
  const final = stageOf(r.metrics, 'final', path.join(dir, 'per_class_accuracy.csv'));
  return {
    protocol: o.protocol.name,
    protocolSha256: sha256(o.protocolText),
    unit: name,
    method: { id: u.method.id, label: u.method.label, plugin: u.method.plugin },
    seed: u.seed,
    ablation: u.ablation,
    final,
    stage1,
    classCounts: final.perClass.map((c) => c.trainCount),
    wallSeconds: (t1 - t0) / 1000,
    attempts,
    attemptsWallSeconds: (t1 - first) / 1000,
    params,
    versions: o.trainer.versions(u.method.plugin),
    commit: o.code,
    goldenFingerprint: o.fingerprint,
    ...(o.machine ? { machine: o.machine } : {}),
    firstEpochLosses: firstEpoch.read() ?? undefined,
    finishedAt: new Date(t1).toISOString(),
  };
}

/**
 * Runs every unit of the protocol that has no result yet, in order, one at a time; writes and commits
 * each result as it finishes. A unit with a result is skipped (its file is committed again if a crash
 * came between writing and committing); an interrupted unit resumes from its checkpoint in `workDir`.
 */
export async function runProtocol(o: HarnessOptions): Promise<HarnessSummary> {
  const dir = path.join(o.outDir, o.protocol.name);
  fs.mkdirSync(dir, { recursive: true });
  const hash = sha256(o.protocolText);
  const summary: HarnessSummary = { ran: [], skipped: [], failed: [] };
  for (const u of unitsOf(o.protocol)) {
    const name = unitName(u);
    if (o.only && !o.only.includes(name)) continue;
    const file = path.join(dir, `${name}.json`);
    const done = readResult(file);
    if (done) {
      if (done.protocolSha256 !== hash) {
        throw new Error(`${file}: was written under another version of protocol ${o.protocol.name} (a changed protocol is a new file with a new name)`);
      }
      o.commit(file, `bench/methods: ${o.protocol.name} ${name} result`);
      summary.skipped.push(name);
      o.log.info(`${name}: done, skipped`);
      continue;
    }
    if (o.signal?.aborted) break;
    o.log.info(`${name}: running`);
    let r: UnitResult;
    try {
      r = await runUnit(o, u);
    } catch (e) {
      if (o.signal?.aborted) throw e;
      summary.failed.push(name);
      o.log.error(`${name}: failed, no result written: ${(e as Error).message}`);
      continue;
    }
    writeResult(file, r);
    o.commit(file, `bench/methods: ${o.protocol.name} ${name}: top-1 ${(100 * r.final.top1).toFixed(1)}%, Few ${(100 * r.final.few).toFixed(1)}% (${r.wallSeconds.toFixed(0)} s)`);
    summary.ran.push(name);
    o.log.info(`${name}: done in ${r.wallSeconds.toFixed(0)} s, top-1 ${r.final.top1.toFixed(4)}`);
  }
  return summary;
}
