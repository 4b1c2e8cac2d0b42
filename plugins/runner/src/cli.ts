#!/usr/bin/env node
import './signal-guard';
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
  TrialPruned,
  type TrainerPlugin,
  type Tracker,
} from '@iccl/trainer-api';
import { runTrial } from './run-trial';
import { openBackendTracker } from './backend-tracker';
import { EXIT, PROTOCOL, PRUNE_SIGNALS, ProtocolChannel } from './protocol';

function makeTracker(spec: string, runId: string): Tracker {
  if (spec === 'console') return new ConsoleTracker(runId);
  if (spec === 'none') return new NullTracker(runId);
  if (spec.startsWith('jsonl:')) return new JsonlTracker(path.join(spec.slice(6), `${runId}.jsonl`), runId, { name: runId });
  throw new Error(`--tracker: got "${spec}", expected console, none, jsonl:DIR, mlflow[:URI] or tensorboard:DIR`);
}

interface Opts {
  params: string;
  paramsFile?: string;
  set: Record<string, unknown>;
  tracker: string;
  workDir: string;
  runId: string;
  listParams?: boolean;
  protocol?: boolean;
  waitForDecision?: boolean;
  reportMetric?: string;
}

function readParams(opts: Opts): Record<string, unknown> {
  try {
    const fromFile = opts.paramsFile ? (JSON.parse(fs.readFileSync(opts.paramsFile, 'utf8')) as Record<string, unknown>) : {};
    return { ...fromFile, ...(JSON.parse(opts.params) as Record<string, unknown>), ...opts.set };
  } catch (e) {
    throw new Error(`--params: not a JSON object (${(e as Error).message})`);
  }
}

/** SIGINT / SIGTERM stop the trial after its current step (a second SIGINT forces). */
function onInterrupt(ac: AbortController): void {
  const stop = (sig: string) => {
    process.stderr.write(`${sig}: stopping after the current step${sig === 'SIGINT' ? ' (Ctrl-C again to force)' : ''}\n`);
    ac.abort();
  };
  process.once('SIGINT', () => {
    stop('SIGINT');
    process.once('SIGINT', () => process.exit(EXIT.interrupted));
  });
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** One trial for an external search tool: protocol messages alone on stdout, its commands on stdin. */
async function runProtocol(plugin: TrainerPlugin, opts: Opts, out: (line: string) => void): Promise<number> {
  const channel = new ProtocolChannel({
    write: out,
    input: process.stdin,
    waitForDecision: opts.waitForDecision === true,
    reportMetric: opts.reportMetric,
    warn: (m) => process.stderr.write(m + '\n'),
  });
  // The prune request for tools that can only signal: SIGUSR2 (no Node.js use), or SIGUSR1 (guarded, see signal-guard.ts).
  for (const sig of PRUNE_SIGNALS) process.on(sig, () => channel.requestPrune());
  const workDir = path.resolve(opts.workDir, opts.runId);
  const ac = new AbortController();
  onInterrupt(ac);
  let params: Record<string, unknown>;
  let opened: Awaited<ReturnType<typeof openBackendTracker>>;
  let tracker: Tracker;
  try {
    params = readParams(opts);
    if (opts.tracker === 'console') throw new Error('--tracker console writes to stdout, which --protocol keeps for its messages: use none, jsonl:DIR, mlflow[:URI] or tensorboard:DIR');
    opened = await openBackendTracker(opts.tracker, opts.runId);
    tracker = opened?.tracker ?? makeTracker(opts.tracker, opts.runId);
  } catch (e) {
    channel.send({ type: 'result', status: 'failed', error: (e as Error).message.split('\n')[0]! });
    return EXIT.usage;
  }
  try {
    const result = await runTrial(plugin, params, {
      tracker,
      workDir,
      trialId: opts.runId,
      signal: ac.signal,
      report: channel.report,
      onStart: (validated) => channel.send({ type: 'hello', protocol: PROTOCOL, run: opts.runId, plugin: plugin.name, params: validated, workDir, pid: process.pid }),
    });
    const value = opts.reportMetric === undefined ? undefined : result.metrics[opts.reportMetric];
    channel.send({ type: 'result', status: 'complete', metrics: result.metrics, ...(value === undefined ? {} : { value }), objective: result.objective, artifacts: result.artifacts ?? [] });
    return EXIT.complete;
  } catch (e) {
    if (e instanceof TrialPruned) {
      channel.send({ type: 'result', status: 'pruned', step: e.step, ...(e.value === undefined ? {} : { value: e.value }), checkpoint: path.join(workDir, 'checkpoint') });
      return EXIT.pruned;
    }
    const message = (e as Error).message.split('\n')[0]!;
    if (e instanceof ParamError) {
      channel.send({ type: 'result', status: 'failed', error: message });
      return EXIT.usage;
    }
    const interrupted = ac.signal.aborted;
    channel.send({ type: 'result', status: interrupted ? 'interrupted' : 'failed', error: message });
    return interrupted ? EXIT.interrupted : EXIT.failed;
  } finally {
    await opened?.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('iccl-run')
    .description('Run one trial of a trainer plugin, with no search driver: validate params, train, track.')
    .argument('<plugin>', 'package name or path of the plugin (pkg#member for one of several)')
    .option('--params <json>', 'parameters as a JSON object', '{}')
    .option('--params-file <file>', 'parameters from a JSON file (merged under --params)')
    .option('--set <key=value>', 'one parameter (repeatable)', parseAssignment, {})
    .option('--tracker <spec>', 'console | none | jsonl:DIR | mlflow[:URI] | tensorboard:DIR', 'jsonl:runs')
    .option('--work-dir <dir>', 'checkpoints and artifacts (of this run: <dir>/<run-id>; the same run id resumes)', 'runs/work')
    .option('--run-id <id>', 'name of this run', `run-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    .option('--list-params', 'print the plugin parameters with defaults and ranges, then exit')
    .option('--protocol', `speak the trial protocol ${PROTOCOL} for an external search tool: JSON lines on stdout, commands on stdin (plugins/runner/README.md)`)
    .option('--wait-for-decision', 'with --protocol: after each report wait for {"type":"continue"} or {"type":"prune"} on stdin')
    .option('--report-metric <name>', 'with --protocol: the metric each report (and the result) carries as "value", e.g. val/top1 (validation)')
    .exitOverride();
  program.parse(argv);
  const opts = program.opts<Opts>();
  if (!opts.protocol && (opts.waitForDecision || opts.reportMetric)) throw new Error('--wait-for-decision and --report-metric need --protocol');
  if (opts.protocol) {
    // stdout carries protocol messages only: everything else anyone prints goes to stderr.
    process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
    const out = (line: string) => void realStdoutWrite(line);
    let plugin: TrainerPlugin;
    try {
      plugin = loadPlugin(program.args[0]!);
    } catch (e) {
      out(JSON.stringify({ type: 'result', status: 'failed', error: (e as Error).message }) + '\n');
      return EXIT.usage;
    }
    return runProtocol(plugin, opts, out);
  }
  const plugin = loadPlugin(program.args[0]!);
  if (opts.listParams) {
    for (const [name, spec] of Object.entries(plugin.params)) {
      process.stdout.write(`${name}  default=${JSON.stringify(spec.default)}  ${describeExpected(spec)}  ${spec.description}\n`);
    }
    return 0;
  }
  const params = readParams(opts);
  const opened = await openBackendTracker(opts.tracker, opts.runId);
  const tracker = opened?.tracker ?? makeTracker(opts.tracker, opts.runId);
  const ac = new AbortController();
  onInterrupt(ac);
  try {
    const result = await runTrial(plugin, params, { tracker, workDir: path.join(opts.workDir, opts.runId), trialId: opts.runId, signal: ac.signal });
    process.stdout.write(JSON.stringify({ run: opts.runId, ...result }) + '\n');
  } finally {
    await opened?.close();
  }
  return 0;
}

const realStdoutWrite = process.stdout.write.bind(process.stdout);

/** Writes what is still buffered for stdout before leaving (a pipe to a tool may lag behind). */
function exitAfterFlush(code: number): void {
  realStdoutWrite('', () => process.exit(code));
}

if (require.main === module) {
  main(process.argv).then(exitAfterFlush, (e: Error & { code?: string }) => {
    if (e.code?.startsWith('commander.')) process.exit(e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : EXIT.usage);
    process.stderr.write(`error: ${e instanceof ParamError ? e.message : e.message.split('\n')[0]}\n`);
    process.exit(EXIT.usage);
  });
}

export { main };
