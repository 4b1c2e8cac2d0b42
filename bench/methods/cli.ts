/**
 * Runs a declared methods protocol, one resumable unit per method and seed (bench/methods/README.md).
 *
 *   npx tsx bench/methods/cli.ts --protocol bench/methods/protocols/NAME.json --work-dir DIR
 *       [--out-dir bench/results/methods] [--only UNIT,UNIT] [--no-commit]
 *   npx tsx bench/methods/cli.ts --protocol FILE --dry-run     (validate every unit's parameters, train nothing)
 *   npx tsx bench/methods/cli.ts --protocol FILE --verify UNIT  (re-run a finished unit's first epoch on this code;
 *                                                                exit 1 when its per-step losses differ)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { consoleLogger } from '@iccl/trainer-api';
import { codeCommit, commitFile } from './git';
import { computeGoldenTrace, readGoldenFixture, traceForKind } from './golden';
import { thisMachineKind } from './machine-kind';
import { runProtocol } from './harness';
import { readMethodsProtocol, unitName, unitsOf } from './protocol';
import { realTrainer, ROOT } from './trainers';
import { describeOutcome, verifyUnit } from './verify';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const file = arg('protocol');
  const workDir = arg('work-dir');
  const verify = arg('verify');
  if (!file || (!workDir && !verify && !process.argv.includes('--dry-run'))) {
    throw new Error('usage: cli.ts --protocol FILE.json (--work-dir DIR [--out-dir DIR] [--only UNIT,...] [--no-commit] | --dry-run | --verify UNIT)');
  }
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
  const outDir = path.resolve(arg('out-dir') ?? path.join(ROOT, 'bench/results/methods'));
  const log = consoleLogger('methods');
  // What the running code computes, in a few seeded steps of every trainer (golden.ts).
  const golden = await computeGoldenTrace();
  const fixture = readGoldenFixture();
  const kind = thisMachineKind();
  const mine = traceForKind(fixture, kind.key);
  if (!mine) log.warn(`the committed golden fixture has no trace for this machine kind (${kind.key}): \`npx tsx bench/methods/golden.ts\` says how this one compares`);
  else if (golden.fingerprint !== mine.fingerprint) log.warn(`this code's golden trace (${golden.fingerprint}) differs from the committed fixture's for this machine kind (${mine.fingerprint})`);
  if (verify) {
    const v = await verifyUnit({ protocol, outDir, trainer: realTrainer, unit: verify, fingerprint: golden.fingerprint, fixture, machine: kind.key });
    console.log(describeOutcome(v));
    if (v.status !== 'match') process.exitCode = 1; // other-kind too: consistent, but not verified bit for bit
    return;
  }
  const ac = new AbortController();
  // Ctrl-C / SIGTERM: the loop stops between steps and keeps its last epoch checkpoint.
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => ac.abort());
  const code = codeCommit(ROOT);
  log.info(`protocol ${protocol.name}, code ${code.sha}${code.dirty ? ' (dirty)' : ''}, golden fingerprint ${golden.fingerprint} on ${kind.key}`);
  const noCommit = process.argv.includes('--no-commit');
  const s = await runProtocol({
    protocol,
    protocolText,
    outDir,
    workDir: path.resolve(workDir as string),
    trainer: realTrainer,
    commit: noCommit ? () => {} : commitFile,
    code,
    fingerprint: golden.fingerprint,
    machine: kind.key,
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
