/**
 * Side experiment on the ICC loss: ICCL stage 1 under variants of one base configuration, logging per
 * epoch the ICC loss over log K, the retrieval rate, the centroid shift, and the mean pairwise cosine
 * of the centroids (how far apart the targets of the contrastive softmax are). Writes a Markdown table.
 *
 *   nice -n 19 npx tsx bench/methods/icc-probe.ts --protocol synthetic --set epochs=15 \
 *       --variant default: --variant m0.99:centroidMomentum=0.99 --variant tau0.5:tau=0.5 [--out FILE.md]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { JsonlTracker, parseAssignment, readJsonl, silentLogger, validateParams, type TrialContext } from '@iccl/trainer-api';
import { readProtocol, runTwoStage, type DataSplit, type Network } from '../../plugins/longtail/src';
import { IcclMethod, icclOnly, plugin, type IcclParams } from '../../plugins/iccl/src';

const parseAssignments = (kvs: string[]) => kvs.reduce<Record<string, unknown>>((acc, kv) => parseAssignment(kv, acc), {});

function all(name: string): string[] {
  return process.argv.flatMap((a, i) => (a === `--${name}` ? [process.argv[i + 1]] : []));
}

/** Mean cosine between distinct centroids (rows of a K x d row-major array of unit vectors). */
export function meanPairwiseCosine(c: Float32Array, dim: number): number {
  const K = c.length / dim;
  let s = 0;
  let n = 0;
  for (let a = 0; a < K; a++) {
    for (let b = a + 1; b < K; b++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let j = 0; j < dim; j++) {
        dot += c[a * dim + j] * c[b * dim + j];
        na += c[a * dim + j] ** 2;
        nb += c[b * dim + j] ** 2;
      }
      s += dot / Math.sqrt(na * nb);
      n++;
    }
  }
  return s / n;
}

class ProbeMethod extends IcclMethod {
  override epochMetrics(epoch: number, train: Record<string, number>): Record<string, number> {
    const m = super.epochMetrics(epoch, train);
    if ('train/icc_retrieval' in m) m['probe/centroid_cos'] = meanPairwiseCosine(this.centroids.values, this.centroids.dim);
    return m;
  }
}

async function main(): Promise<void> {
  loadTf('cpu');
  const base = { ...readProtocol(all('protocol')[0] ?? 'synthetic').params, crtEpochs: 0, evalEvery: 1000, ...parseAssignments(all('set')) };
  const variants = all('variant').map((v) => {
    const i = v.indexOf(':');
    if (i < 0) throw new Error(`--variant "${v}": expected NAME:key=value,key=value`);
    return { name: v.slice(0, i), set: parseAssignments(v.slice(i + 1).split(',').filter(Boolean)) };
  });
  if (variants.length === 0) variants.push({ name: 'default', set: {} });
  const lines = [
    `Base: ${JSON.stringify(base)}`,
    '',
    '| variant | epoch | loss_icc / log K | floor / log K | retrieval | centroid shift | centroid cos |',
    '|---|---|---|---|---|---|---|',
  ];
  const out = all('out')[0];
  // Written after every variant, so a long sweep cut short keeps what it finished.
  const save = () => out && fs.writeFileSync(out, lines.join('\n') + '\n');
  save();
  for (const v of variants) {
    const p = validateParams(plugin.params, { ...base, ...v.set }) as IcclParams;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `icc-probe-${v.name}-`));
    const file = path.join(dir, 'metrics.jsonl');
    const ctx: TrialContext = { trialId: v.name, workDir: dir, signal: new AbortController().signal, report: async () => {}, tracker: new JsonlTracker(file, v.name), log: silentLogger };
    const t0 = Date.now();
    await runTwoStage({
      trainer: 'iccl',
      params: p,
      methodParams: icclOnly(p),
      ctx,
      makeMethod: (net: Network, data: DataSplit) => new ProbeMethod(net, data, { ...icclOnly(p), seed: p.seed, batchSize: p.batchSize, workers: p.workers }),
    });
    for (const r of readJsonl(file)) {
      if (r.kind !== 'metrics' || !('train/icc_retrieval' in r.metrics)) continue;
      const m = r.metrics;
      const floor = m['train/loss_icc_floor'];
      const K = m['train/loss_icc'] / m['train/loss_icc_over_logk']; // log K, from the logged ratio
      lines.push(`| ${v.name} | ${r.step} | ${m['train/loss_icc_over_logk'].toFixed(3)} | ${floor === undefined ? '-' : (floor / K).toFixed(3)} | ${m['train/icc_retrieval'].toFixed(3)} | ${m['train/centroid_shift'].toFixed(3)} | ${m['probe/centroid_cos'].toFixed(3)} |`);
    }
    console.error(`${v.name}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    fs.rmSync(dir, { recursive: true, force: true });
    save();
  }
  console.log(lines.join('\n'));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
