#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import {
  ConsoleTracker,
  describeExpected,
  JsonlTracker,
  loadPlugin,
  NullTracker,
  ParamError,
  parseAssignment,
  type Tracker,
} from '@iccl/trainer-api';
import { runTrial } from './run-trial';

function makeTracker(spec: string, runId: string): Tracker {
  if (spec === 'console') return new ConsoleTracker(runId);
  if (spec === 'none') return new NullTracker(runId);
  if (spec.startsWith('jsonl:')) return new JsonlTracker(path.join(spec.slice(6), `${runId}.jsonl`), runId, { name: runId });
  throw new Error(`--tracker: got "${spec}", expected console, none or jsonl:DIR`);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('iccl-run')
    .description('Run one trial of a trainer plugin, with no search driver: validate params, train, track.')
    .argument('<plugin>', 'package name or path of the plugin (pkg#member for one of several)')
    .option('--params <json>', 'parameters as a JSON object', '{}')
    .option('--params-file <file>', 'parameters from a JSON file (merged under --params)')
    .option('--set <key=value>', 'one parameter (repeatable)', parseAssignment, {})
    .option('--tracker <spec>', 'console | none | jsonl:DIR', 'jsonl:runs')
    .option('--work-dir <dir>', 'checkpoints and artifacts', 'runs/work')
    .option('--run-id <id>', 'name of this run', `run-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    .option('--list-params', 'print the plugin parameters with defaults and ranges, then exit')
    .exitOverride();
  program.parse(argv);
  const opts = program.opts<{ params: string; paramsFile?: string; set: Record<string, unknown>; tracker: string; workDir: string; runId: string; listParams?: boolean }>();
  const plugin = loadPlugin(program.args[0]!);
  if (opts.listParams) {
    for (const [name, spec] of Object.entries(plugin.params)) {
      process.stdout.write(`${name}  default=${JSON.stringify(spec.default)}  ${describeExpected(spec)}  ${spec.description}\n`);
    }
    return 0;
  }
  let params: Record<string, unknown>;
  try {
    const fromFile = opts.paramsFile ? (JSON.parse(fs.readFileSync(opts.paramsFile, 'utf8')) as Record<string, unknown>) : {};
    params = { ...fromFile, ...(JSON.parse(opts.params) as Record<string, unknown>), ...opts.set };
  } catch (e) {
    throw new Error(`--params: not a JSON object (${(e as Error).message})`);
  }
  const tracker = makeTracker(opts.tracker, opts.runId);
  const ac = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('interrupt: stopping after the current step (Ctrl-C again to force)\n');
    ac.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const result = await runTrial(plugin, params, { tracker, workDir: path.join(opts.workDir, opts.runId), trialId: opts.runId, signal: ac.signal });
  process.stdout.write(JSON.stringify({ run: opts.runId, ...result }) + '\n');
  return 0;
}

if (require.main === module) {
  main(process.argv).then(
    (code) => process.exit(code),
    (e: Error & { code?: string }) => {
      if (e.code?.startsWith('commander.')) process.exit(e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2);
      process.stderr.write(`error: ${e instanceof ParamError ? e.message : e.message.split('\n')[0]}\n`);
      process.exit(2);
    },
  );
}

export { main };
