/**
 * Runs a declared methods protocol, one resumable unit per method and seed (bench/methods/README.md).
 *
 *   npx tsx bench/methods/cli.ts --protocol bench/methods/protocols/NAME.json --work-dir DIR
 *       [--out-dir bench/results/methods] [--only UNIT,UNIT] [--no-commit]
 *   npx tsx bench/methods/cli.ts --protocol FILE --dry-run     (validate every unit's parameters, train nothing)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backendTags, loadTf } from '@iccl/tf-backend';
import { consoleLogger, JsonlTracker, validateParams, type TrainerPlugin } from '@iccl/trainer-api';
import { plugins } from '../../plugins/baselines/src';
import { plugin as iccl } from '../../plugins/iccl/src';
import { codeCommit, commitFile } from './git';
import { runProtocol, type UnitTrainer } from './harness';
import { readMethodsProtocol, unitName, unitsOf } from './protocol';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const PLUGINS: Record<string, TrainerPlugin> = {
  ce: plugins.ce as TrainerPlugin,
  crt: plugins.crt as TrainerPlugin,
  mixup: plugins.mixup as TrainerPlugin,
  iccl: iccl as TrainerPlugin,
};

function pluginOf(name: string): TrainerPlugin {
  const p = PLUGINS[name];
  if (!p) throw new Error(`plugin "${name}": expected one of ${Object.keys(PLUGINS).join(', ')}`);
  return p;
}

const ROOT = path.resolve(__dirname, '../..');

function packageVersion(dir: string): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as { version: string }).version;
}

export const realTrainer: UnitTrainer = {
  params: (plugin, raw) => validateParams(pluginOf(plugin).params, raw) as Record<string, string | number | boolean>,
  train: (plugin, params, ctx) => pluginOf(plugin).train(params, ctx),
  context: (unit, workDir, metricsFile, signal) => ({
    trialId: unit,
    workDir,
    signal,
    report: async () => {},
    tracker: new JsonlTracker(metricsFile, unit),
    log: consoleLogger(unit),
  }),
  versions: (plugin) => ({
    node: process.version,
    [`plugin.${plugin}`]: pluginOf(plugin).version,
    '@iccl/longtail': packageVersion('plugins/longtail'),
    '@iccl/tf-backend': packageVersion('plugins/tf-backend'),
    ...backendTags(),
  }),
};

async function main(): Promise<void> {
  const file = arg('protocol');
  const workDir = arg('work-dir');
  if (!file || (!workDir && !process.argv.includes('--dry-run'))) throw new Error('usage: cli.ts --protocol FILE.json --work-dir DIR [--out-dir DIR] [--only UNIT,...] [--no-commit]');
  loadTf(process.env.ICCL_DEVICE ?? 'cpu');
  const protocolText = fs.readFileSync(file, 'utf8');
  const protocol = readMethodsProtocol(file);
  if (process.argv.includes('--dry-run')) {
    for (const u of unitsOf(protocol)) {
      const p = realTrainer.params(u.method.plugin, { ...protocol.params, ...(u.method.set ?? {}), seed: u.seed });
      console.log(`${unitName(u)}: ${u.method.plugin} ${JSON.stringify(u.method.set ?? {})} (${Object.keys(p).length} parameters valid)`);
    }
    return;
  }
  const ac = new AbortController();
  // Ctrl-C / SIGTERM: the loop stops between steps and keeps its last epoch checkpoint.
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => ac.abort());
  const log = consoleLogger('methods');
  const code = codeCommit(ROOT);
  log.info(`protocol ${protocol.name}, code ${code.sha}${code.dirty ? ' (dirty)' : ''}`);
  const noCommit = process.argv.includes('--no-commit');
  const s = await runProtocol({
    protocol,
    protocolText,
    outDir: path.resolve(arg('out-dir') ?? path.join(ROOT, 'bench/results/methods')),
    workDir: path.resolve(workDir as string),
    trainer: realTrainer,
    commit: noCommit ? () => {} : commitFile,
    code,
    log,
    signal: ac.signal,
    only: arg('only')?.split(','),
  });
  log.info(`ran ${s.ran.length} unit(s) (${s.ran.join(', ') || '-'}), skipped ${s.skipped.length} already done`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
