/**
 * ICCL + cRT against the baselines (CE, CE + cRT, mixup) under one protocol: same data, network,
 * schedule and evaluation, only the method differs. One seed per method (what the time allows on
 * a CPU); prints a Markdown table of top-1 / Many / Medium / Few and wall time.
 *
 *   npx tsx bench/train/compare.ts [--protocol synthetic] [--set key=value ...] [--methods ce,crt,mixup,iccl]
 *
 * Without `ce` but with `crt` in --methods, the cross-entropy row is read from the crt run's
 * evaluation at the end of its stage 1 (the same computation: same seed, data and schedule), which
 * saves one full stage-1 run on a slow machine.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { consoleLogger, validateParams, type TrainerPlugin, type TrialContext } from '@iccl/trainer-api';
import { JsonlTracker, readJsonl } from '@iccl/trainer-api';
import { plugins } from '../../plugins/baselines/src';
import { plugin as iccl } from '../../plugins/iccl/src';
import { readProtocol } from '../../plugins/longtail/src';

function args(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === `--${name}`) out.push(process.argv[i + 1]);
  });
  return out;
}

async function main(): Promise<void> {
  loadTf(process.env.ICCL_DEVICE ?? 'cpu');
  const protocol = readProtocol(args('protocol')[0] ?? 'synthetic');
  const overrides: Record<string, string | number | boolean> = {};
  for (const kv of args('set')) {
    const [k, v] = kv.split('=');
    overrides[k] = v === 'true' ? true : v === 'false' ? false : Number.isNaN(Number(v)) ? v : Number(v);
  }
  const methods = (args('methods')[0] ?? 'ce,crt,mixup,iccl').split(',');
  const byName: Record<string, TrainerPlugin> = { ce: plugins.ce as TrainerPlugin, crt: plugins.crt as TrainerPlugin, mixup: plugins.mixup as TrainerPlugin, iccl: iccl as TrainerPlugin };
  const rows: string[] = [];
  for (const m of methods) {
    const pl = byName[m];
    // Same protocol for all; one-stage baselines run without cRT, two-stage ones with the protocol's.
    const oneStage = m === 'ce' || m === 'mixup';
    const params = validateParams(pl.params, { ...protocol.params, ...overrides, ...(oneStage ? { crtEpochs: 0 } : {}) });
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `compare-${m}-`));
    const logFile = path.join(workDir, 'metrics.jsonl');
    const ctx: TrialContext = { trialId: m, workDir, signal: new AbortController().signal, report: async () => {}, tracker: new JsonlTracker(logFile, m), log: consoleLogger(m) };
    const t0 = Date.now();
    const r = await pl.train(params, ctx);
    const s = (Date.now() - t0) / 1000;
    const f = (v: number | undefined) => (v === undefined ? 'n/a' : (100 * v).toFixed(1));
    if (m === 'crt' && !methods.includes('ce')) {
      // the stage-1 model on test: stage1_test/* (eval/* from trainers before validation splits)
      const end1 = readJsonl(logFile).find((r) => r.kind === 'metrics' && r.step === params.epochs && ('stage1_test/top1' in r.metrics || 'eval/top1' in r.metrics));
      const e = end1 && end1.kind === 'metrics' ? end1.metrics : {};
      const t = (k: string) => e[`stage1_test/${k}`] ?? e[`eval/${k}`];
      rows.push(`| ce (stage 1 of the crt run) | ${f(t('top1'))} | ${f(t('many'))} | ${f(t('medium'))} | ${f(t('few'))} | - |`);
      console.log(rows[rows.length - 1]);
    }
    rows.push(`| ${m}${oneStage ? '' : ' + cRT'} | ${f(r.metrics.top1)} | ${f(r.metrics.many)} | ${f(r.metrics.medium)} | ${f(r.metrics.few)} | ${s.toFixed(0)} |`);
    console.log(rows[rows.length - 1]);
  }
  console.log(`\nprotocol ${protocol.name} ${JSON.stringify(overrides)}`);
  console.log('| method | top-1 % | Many % | Medium % | Few % | wall s |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
