/**
 * The golden trace: what the shipped training code computes, in a few seeded steps of each trainer
 * of the methods table (CE, cRT's stage 2, mixup, ICCL) on the synthetic set. Its per-step losses and
 * final weights' checksums are a committed fixture (golden-trace.json) that a test re-computes
 * bit-exactly; its fingerprint goes into every result of the harness, so a table never mixes
 * results of code that computes different things without saying so.
 *
 *   npx tsx bench/methods/golden.ts            compare the current code with the fixture
 *   npx tsx bench/methods/golden.ts --write    re-write the fixture (say so in the commit, re-verify evidence)
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { NullTracker, type Logger, type StepRecord } from '@iccl/trainer-api';
import { pluginOf, realTrainer } from './trainers';

type Value = string | number | boolean;

export const GOLDEN_FILE = path.join(__dirname, 'golden-trace.json');

/** Small enough for a test (seconds), real enough to pass through data, augmentation, steps and schedules. */
const BASE: Record<string, Value> = {
  dataset: 'synthetic',
  syntheticClasses: 4,
  maxPerClass: 48,
  testPerClass: 8,
  imbalanceFactor: 8,
  model: 'resnet32',
  batchSize: 16,
  epochs: 2,
  maxStepsPerEpoch: 3,
  lr: 0.02,
  crtLr: 0.05,
  warmupEpochs: 1,
  schedule: 'cosine',
  evalEvery: 100,
  workers: 0,
  seed: 3,
  device: 'cpu',
  engine: 'eager',
  crtEpochs: 0,
};

export const GOLDEN_CASES: Array<{ id: string; plugin: string; params: Record<string, Value> }> = [
  { id: 'ce', plugin: 'ce', params: BASE },
  { id: 'crt', plugin: 'crt', params: { ...BASE, crtEpochs: 1 } },
  { id: 'mixup', plugin: 'mixup', params: BASE },
  { id: 'iccl', plugin: 'iccl', params: { ...BASE, iccWarmupEpochs: 1 } },
];

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

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Runs one case in a temporary folder and returns what it computed. */
export async function traceCase(c: (typeof GOLDEN_CASES)[number]): Promise<CaseTrace> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iccl-golden-${c.id}-`));
  try {
    const steps: CaseTrace['steps'] = [];
    const params = realTrainer.params(c.plugin, c.params);
    const r = await pluginOf(c.plugin).train(params as never, {
      trialId: `golden-${c.id}`,
      workDir: dir,
      signal: new AbortController().signal,
      report: async () => {},
      tracker: new NullTracker(),
      log: quiet,
      onStep: (s: StepRecord) => steps.push([s.stage, s.epoch, s.step, s.loss]),
    });
    const weights = fs.readFileSync(path.join(dir, 'model', 'weights.bin'));
    return { steps, weightsSha256: crypto.createHash('sha256').update(weights).digest('hex'), top1: r.metrics.top1 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function fingerprintOf(cases: Record<string, CaseTrace>): string {
  return crypto.createHash('sha256').update(JSON.stringify(cases)).digest('hex').slice(0, 16);
}

export async function computeGoldenTrace(): Promise<GoldenTrace> {
  loadTf('cpu');
  const cases: Record<string, CaseTrace> = {};
  for (const c of GOLDEN_CASES) cases[c.id] = await traceCase(c);
  return { fingerprint: fingerprintOf(cases), cases };
}

export function readGoldenTrace(file = GOLDEN_FILE): GoldenTrace {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as GoldenTrace;
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

async function main(): Promise<void> {
  const got = await computeGoldenTrace();
  if (process.argv.includes('--write')) {
    fs.writeFileSync(GOLDEN_FILE, JSON.stringify(got, null, 1) + '\n');
    console.log(`${path.relative(process.cwd(), GOLDEN_FILE)}: fingerprint ${got.fingerprint}`);
    return;
  }
  const want = readGoldenTrace();
  const diff = traceDifferences(want, got);
  if (diff.length) {
    console.error(`golden trace differs from ${GOLDEN_FILE} (fingerprint ${want.fingerprint} there, ${got.fingerprint} now):\n  ${diff.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`golden trace matches: fingerprint ${got.fingerprint}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
