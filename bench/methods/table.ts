/**
 * The methods table of one protocol, from its result files: bench/results/methods.md (merged into
 * bench/RESULTS.md by `node bench/merge-results.mjs`) and a per-class accuracy plot (SVG).
 *
 *   npx tsx bench/methods/table.ts --protocol bench/methods/protocols/NAME.json
 *       [--results bench/results/methods/NAME] [--out bench/results/methods.md]
 *       [--svg bench/results/methods-per-class.svg] [--work-dir DIR (adds the ICC diagnostics per epoch)]
 *       [--allow-mixed-fingerprints (results of code with different golden traces in one table)]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonl } from '@iccl/trainer-api';
import { renderSvg } from '../../search/src/report/plots';
import { readGoldenFixture, traceWithFingerprint, type GoldenFixture } from './golden-fixture';
import { readMethodsProtocol, unitName, unitsOf, type MethodsProtocol } from './protocol';
import { readResult, type UnitResult } from './result';
import { METRICS, byMethod, cell, formatCell, formatDiff, paired, sentence, type MethodRows } from './summary';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const ROOT = path.resolve(__dirname, '../..');

/** Mean accuracy of each class over the seeds of each main method, against its training count. */
export function perClassPoints(rows: MethodRows[]): Array<{ method: string; class: string; count: number; accuracy: number }> {
  const out: Array<{ method: string; class: string; count: number; accuracy: number }> = [];
  for (const r of rows.filter((x) => !x.ablation && x.bySeed.size > 0)) {
    const seeds = [...r.bySeed.values()];
    for (const c of seeds[0].perClass) {
      const acc = seeds.map((s) => s.perClass[c.class]?.accuracy).filter((a): a is number => typeof a === 'number');
      if (acc.length) out.push({ method: `${r.label} (${acc.length} seed${acc.length === 1 ? "" : "s"})`, class: c.name, count: c.trainCount, accuracy: acc.reduce((a, b) => a + b, 0) / acc.length });
    }
  }
  return out;
}

type Spec = Parameters<typeof renderSvg>[0];

/** The units of each golden-trace fingerprint ('none' for results written before fingerprints). */
export function fingerprintGroups(results: UnitResult[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const r of results) {
    const fp = r.goldenFingerprint ?? 'none';
    g.set(fp, [...(g.get(fp) ?? []), r.unit]);
  }
  return g;
}

/**
 * Refuses results of code that computes different things, unless told; the message says which units
 * differ. Fingerprints that are all traces of the committed fixture are the same code on different
 * machine kinds (golden.ts): those mix, and the table says which kind each came from.
 */
export function checkFingerprints(results: UnitResult[], allowMixed: boolean, fixture?: GoldenFixture): void {
  const g = fingerprintGroups(results);
  if (g.size <= 1 || allowMixed) return;
  if (fixture && [...g.keys()].every((fp) => traceWithFingerprint(fixture, fp))) return;
  const lines = [...g.entries()].map(([fp, units]) => `  ${fp}: ${units.sort().join(', ')}`);
  throw new Error(
    `the results come from code with ${g.size} different golden traces, so they may not compute the same thing:\n${lines.join('\n')}\n` +
      `re-check the odd ones with \`cli.ts --verify UNIT\`, or pass --allow-mixed-fingerprints to tabulate them anyway`,
  );
}

function plotSpec(points: ReturnType<typeof perClassPoints>, title: string): Spec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 520,
    height: 300,
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'count', type: 'quantitative', scale: { type: 'log' }, title: 'training images of the class (log)' },
      y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, title: 'test accuracy of the class (mean over seeds)' },
      color: { field: 'method', type: 'nominal', title: null },
      tooltip: [{ field: 'class' }, { field: 'count' }, { field: 'accuracy', format: '.3f' }],
    },
    config: { legend: { orient: 'bottom', columns: 2 } },
  } as Spec;
}

/** Per-epoch ICC diagnostics of the ICCL units (from their metrics.jsonl under the work folder). */
function diagnostics(p: MethodsProtocol, workDir: string): string[] {
  const lines = ['| unit | epoch | train/loss_icc | / log K | train/icc_retrieval | train/centroid_shift |', '|---|---|---|---|---|---|'];
  let any = false;
  for (const u of unitsOf(p).filter((x) => x.method.plugin === 'iccl')) {
    const f = path.join(workDir, p.name, unitName(u), 'metrics.jsonl');
    if (!fs.existsSync(f)) continue;
    const byStep = new Map<number, Record<string, number>>();
    for (const r of readJsonl(f)) if (r.kind === 'metrics' && r.step !== undefined && 'train/loss_icc' in r.metrics) byStep.set(r.step, r.metrics);
    for (const [step, m] of [...byStep.entries()].sort((a, b) => a[0] - b[0])) {
      any = true;
      const f4 = (k: string) => (typeof m[k] === 'number' ? m[k].toFixed(4) : '-');
      lines.push(`| ${unitName(u)} | ${step} | ${f4('train/loss_icc')} | ${f4('train/loss_icc_over_logk')} | ${f4('train/icc_retrieval')} | ${f4('train/centroid_shift')} |`);
    }
  }
  return any ? lines : [];
}

/** The declared sanity criterion's outcome, in one line (or null when the protocol declares none). */
export function sanityLine(p: MethodsProtocol, rows: MethodRows[]): string | null {
  const sc = p.sanity;
  if (!sc) return null;
  const row = rows.find((r) => r.id === sc.method);
  const values = row ? [...row.bySeed.values()].map((s) => s[sc.metric]) : [];
  const want = `${row?.label ?? sc.method} mean ${sc.metric === 'top1' ? 'top-1' : sc.metric} over its ${p.seeds.length} seeds >= ${(100 * sc.min).toFixed(0)}%`;
  if (values.length < p.seeds.length) return `**Sanity criterion** (declared in the protocol): ${want}: not decided yet (${values.length} of ${p.seeds.length} seeds).`;
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return m >= sc.min
    ? `**Sanity criterion** (declared in the protocol): ${want}: met (${(100 * m).toFixed(1)}%).`
    : `**Sanity criterion** (declared in the protocol): ${want}: NOT MET (${(100 * m).toFixed(1)}%): ${sc.then}.`;
}

export function markdown(p: MethodsProtocol, protocolFile: string, results: UnitResult[], svgLink: string | null, diag: string[], fixture?: GoldenFixture): string {
  const rows = byMethod(p, results);
  const main = rows.filter((r) => !r.ablation);
  const ablation = rows.filter((r) => r.ablation);
  const units = unitsOf(p);
  const done = new Set(results.map((r) => r.unit));
  const missing = units.map(unitName).filter((u) => !done.has(u));
  const a = rows.find((r) => r.id === p.paired.a)!;
  const b = rows.find((r) => r.id === p.paired.b)!;
  const commits = [...new Set(results.map((r) => r.commit.sha.slice(0, 7) + (r.commit.dirty ? ' (dirty)' : '')))];
  const fingerprints = [...fingerprintGroups(results)].map(([fp, units]) => {
    const kind = fixture ? traceWithFingerprint(fixture, fp)?.machine.key : undefined;
    return `${fp}${kind ? ` (${kind}: ${units.sort().join(', ')})` : ''}`;
  });
  const pp = p.params;
  const out = [
    `## Methods under one declared protocol: \`${p.name}\` (\`bench/methods\`)`,
    '',
    `Protocol \`${path.relative(ROOT, protocolFile)}\`, declared and committed before any result: ${pp.dataset} IF ${pp.imbalanceFactor}, ${pp.model}, ` +
      `${pp.epochs} stage-1 epochs x ${pp.maxStepsPerEpoch || 'all'} steps of ${pp.batchSize}, cRT ${pp.crtEpochs} epochs (two-stage methods), seeds ${p.seeds.join(', ')}; ` +
      `every method at its documented defaults. Its description holds the time arithmetic. Units done: ${units.length - missing.length} of ${units.length}` +
      (missing.length ? ` (not yet: ${missing.join(', ')})` : '') +
      `. Code: ${commits.join(', ') || '-'}; golden-trace fingerprint: ${fingerprints.join(', ') || '-'}. Run: \`npx nx run bench-methods:run --protocol ${path.relative(ROOT, protocolFile)} --work-dir DIR\`; ` +
      `table: \`npx tsx bench/methods/table.ts --protocol ${path.relative(ROOT, protocolFile)}\`.`,
    '',
    `Accuracy in % (mean ± sd over seeds; chance is ${results[0] ? (100 / results[0].classCounts.length).toFixed(0) : '?'}%); CE is read from the end of stage 1 of the CE + cRT unit (the same computation).`,
    '',
    '| method | seeds | top-1 % | Many % | Medium % | Few % | wall s per unit |',
    '|---|---|---|---|---|---|---|',
    ...main.map(
      (r) =>
        `| ${r.label} | ${r.bySeed.size} | ${METRICS.map((m) => formatCell(cell(r, m))).join(' | ')} | ${r.wallSeconds.length ? (r.wallSeconds.reduce((x, y) => x + y, 0) / r.wallSeconds.length).toFixed(0) : '-'} |`,
    ),
    '',
    `Paired by seed, ${a.label} minus ${b.label}, points, mean [95% t-interval] (per-seed differences):`,
    '',
    '| metric | difference |',
    '|---|---|',
    ...METRICS.map((m) => `| ${m === 'top1' ? 'top-1' : m} | ${formatDiff(paired(a, b, m))} |`),
    '',
  ];
  const sanity = sanityLine(p, rows);
  if (sanity) out.push(sanity, '');
  if (ablation.length) {
    out.push(
      `Ablation (same protocol; difference to ${a.label} at the same seeds, points):`,
      '',
      '| variant | seeds | top-1 % | Many % | Medium % | Few % | Δ top-1 | Δ Few |',
      '|---|---|---|---|---|---|---|---|',
      ...ablation.map(
        (r) => `| ${r.label} | ${r.bySeed.size} | ${METRICS.map((m) => formatCell(cell(r, m))).join(' | ')} | ${formatDiff(paired(r, a, 'top1'))} | ${formatDiff(paired(r, a, 'few'))} |`,
      ),
      '',
    );
  }
  if (svgLink) out.push(`![per-class accuracy against training images](${svgLink})`, '');
  if (diag.length) out.push('ICC loss diagnostics per stage-1 epoch (ICCL units; log K is chance level for the loss):', '', ...diag, '');
  const K = results[0]?.classCounts.length ?? 0;
  out.push(`**What it shows:** ${sentence(p, a, b, rows.filter((r) => !r.ablation), K > 0 ? 1 / K : 0)}`, '');
  return out.join('\n');
}

async function main(): Promise<void> {
  const file = arg('protocol');
  if (!file) throw new Error('usage: table.ts --protocol FILE.json [--results DIR] [--out FILE.md] [--svg FILE.svg] [--work-dir DIR]');
  const p = readMethodsProtocol(file);
  const dir = path.resolve(arg('results') ?? path.join(ROOT, 'bench/results/methods', p.name));
  const results = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => readResult(path.join(dir, f)))
        .filter((r): r is UnitResult => r !== null)
    : [];
  const fixture = readGoldenFixture();
  checkFingerprints(results, process.argv.includes('--allow-mixed-fingerprints'), fixture);
  const outMd = path.resolve(arg('out') ?? path.join(ROOT, 'bench/results/methods.md'));
  const svgFile = path.resolve(arg('svg') ?? path.join(ROOT, 'bench/results/methods-per-class.svg'));
  const points = perClassPoints(byMethod(p, results));
  let link: string | null = null;
  if (points.length) {
    fs.writeFileSync(svgFile, await renderSvg(plotSpec(points, `Per-class accuracy, ${p.name}`)));
    // The page is read merged into bench/RESULTS.md: the link is relative to bench/.
    link = path.relative(path.join(ROOT, 'bench'), svgFile);
  }
  const work = arg('work-dir');
  fs.writeFileSync(outMd, markdown(p, path.resolve(file), results, link, work ? diagnostics(p, work) : [], fixture));
  console.log(`${path.relative(ROOT, outMd)}: ${results.length} unit result(s)${link ? `, plot ${path.relative(ROOT, svgFile)}` : ''}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
