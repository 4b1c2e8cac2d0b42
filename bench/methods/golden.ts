/**
 * The golden trace: what the shipped training code computes, in a few seeded steps of each trainer
 * of the methods table (CE, cRT's stage 2, mixup, ICCL) on the synthetic set. Its per-step losses and
 * final weights' checksums are a committed fixture (golden-trace.json) that a test re-computes
 * bit-exactly; its fingerprint goes into every result of the harness, so a table never mixes
 * results of code that computes different things without saying so.
 *
 * Bit-exact holds per machine kind (machine-kind.ts): the fixture keeps one trace per kind the code
 * was traced on, all of the same code. Between kinds the first epoch agrees to rounding (CROSS_KIND_TOL).
 *
 *   npx tsx bench/methods/golden.ts            compare the current code with this machine kind's trace
 *   npx tsx bench/methods/golden.ts --write    record this kind's trace: added beside the others when they
 *                                              agree to rounding (same code, another kind), else the code
 *                                              changed and it replaces them (say so in the commit, re-verify evidence)
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { NullTracker, type Logger, type StepRecord } from '@iccl/trainer-api';
import { crossKindDifferences, GOLDEN_FILE, readGoldenFixture, recordTrace, traceDifferences, traceForKind, type CaseTrace, type GoldenTrace } from './golden-fixture';
import { thisMachineKind } from './machine-kind';
import { pluginOf, realTrainer } from './trainers';

export * from './golden-fixture';

type Value = string | number | boolean;

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

async function main(): Promise<void> {
  const kind = thisMachineKind();
  const got = await computeGoldenTrace();
  const fixture = readGoldenFixture();
  if (process.argv.includes('--write')) {
    const { fixture: next, note } = recordTrace(fixture, got, kind.key);
    fs.writeFileSync(GOLDEN_FILE, JSON.stringify(next, null, 1) + '\n');
    console.log(`${path.relative(process.cwd(), GOLDEN_FILE)}: fingerprint ${got.fingerprint} on ${kind.key}; ${note}`);
    return;
  }
  const want = traceForKind(fixture, kind.key);
  if (!want) {
    const cross = fixture.traces.map((t) => `${t.machine.key}: ${crossKindDifferences(t, got).join('; ') || 'agrees to rounding in the first epoch'}`);
    console.error(`no golden trace for this machine kind (${kind.key}; fingerprint ${got.fingerprint} here). The fixture's:\n  ${cross.join('\n  ')}\nRecord this kind's with --write.`);
    process.exit(1);
  }
  const diff = traceDifferences(want, got);
  if (diff.length) {
    console.error(`golden trace differs from ${GOLDEN_FILE} on ${kind.key} (fingerprint ${want.fingerprint} there, ${got.fingerprint} now):\n  ${diff.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`golden trace matches on ${kind.key}: fingerprint ${got.fingerprint}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
