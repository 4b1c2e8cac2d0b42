import * as fs from 'node:fs';

/** Accuracy of one class at the end of a stage. */
export interface ClassRow {
  class: number;
  name: string;
  group: string;
  trainCount: number;
  testCount: number;
  /** null when the class has no test images */
  accuracy: number | null;
}

export interface StageResult {
  top1: number;
  many: number;
  medium: number;
  few: number;
  perClass: ClassRow[];
}

/** bench/results/methods/<protocol>/<unit>.json */
export interface UnitResult {
  protocol: string;
  /** sha256 of the protocol file the unit ran under */
  protocolSha256: string;
  unit: string;
  method: { id: string; label: string; plugin: string };
  seed: number;
  ablation: boolean;
  /** the final evaluation (after cRT for two-stage methods) */
  final: StageResult;
  /** the evaluation at the end of stage 1 (two-stage methods), with the method it stands for */
  stage1: (StageResult & { as?: { id: string; label: string } }) | null;
  /** training images per class */
  classCounts: number[];
  /** wall time of the attempt that finished the unit, and of all attempts together */
  wallSeconds: number;
  attempts: number;
  attemptsWallSeconds: number;
  /** the exact validated parameters the plugin ran with */
  params: Record<string, string | number | boolean>;
  versions: Record<string, string>;
  commit: { sha: string; dirty: boolean };
  /** the golden-trace fingerprint of the code that produced it (golden.ts); absent in older results */
  goldenFingerprint?: string;
  /** machine kind (machine-kind.ts); results before 2026-12-07 do not record it (their fingerprint tells it) */
  machine?: string;
  /** stage 1, epoch 0: the loss of every step, as computed (what `cli.ts --verify` re-computes) */
  firstEpochLosses?: number[];
  finishedAt: string;
}

/** Parses the loop's per_class_accuracy*.csv (class,name,group,train_count,test_count,accuracy). */
export function parsePerClassCsv(text: string, file = 'per-class CSV'): ClassRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines[0] !== 'class,name,group,train_count,test_count,accuracy') throw new Error(`${file}: unexpected header "${lines[0]}"`);
  return lines.slice(1).map((l, i) => {
    // Names with a comma are quoted (RFC 4180); none of the columns after the name can hold one.
    const m = /^(\d+),("(?:[^"]|"")*"|[^,]*),([a-z]*),(\d+),(\d+),([^,]*)$/.exec(l);
    if (!m) throw new Error(`${file}:${i + 2}: cannot parse "${l}"`);
    const name = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/""/g, '"') : m[2];
    return { class: Number(m[1]), name, group: m[3], trainCount: Number(m[4]), testCount: Number(m[5]), accuracy: m[6] === '' ? null : Number(m[6]) };
  });
}

/** A finished unit's result, or null when there is none (a half-written file counts as none). */
export function readResult(file: string): UnitResult | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const r = JSON.parse(text) as UnitResult;
  if (!r.final || typeof r.final.top1 !== 'number') throw new Error(`${file}: not a unit result (no final.top1)`);
  return r;
}

/** Writes the result atomically (temp file + rename): a crash never leaves a half file that reads as done. */
export function writeResult(file: string, r: UnitResult): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(r, null, 1) + '\n');
  fs.renameSync(tmp, file);
}
