#!/usr/bin/env node
/* A loopback TCP fault proxy for trying outages by hand:
 *   npx tsx tools/fault-proxy/cli.ts --target 5000 [--port 5001]
 * then type a mode on stdin: pass | refuse | drop | stall | delay MS (one per line). */
import * as readline from 'node:readline';
import { FaultProxy, type FaultMode } from './fault-proxy';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const target = Number(arg('--target'));
  if (!Number.isInteger(target) || target <= 0) {
    process.stderr.write('fault-proxy: --target PORT is required (the port of the server on 127.0.0.1)\n');
    return 2;
  }
  const port = arg('--port') ? Number(arg('--port')) : undefined;
  const proxy = await FaultProxy.start({ targetPort: target, port });
  process.stdout.write(`fault-proxy: ${proxy.uri} -> 127.0.0.1:${target} (mode pass); type pass, refuse, drop, stall or delay MS\n`);
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, n] = line.trim().split(/\s+/);
    if (!cmd) continue;
    if (cmd === 'delay') await proxy.setMode('pass', Number(n) || 0);
    else if (['pass', 'refuse', 'drop', 'stall'].includes(cmd)) await proxy.setMode(cmd as FaultMode);
    else {
      process.stderr.write(`fault-proxy: unknown command ${JSON.stringify(cmd)}; expected pass, refuse, drop, stall or delay MS\n`);
      continue;
    }
    process.stdout.write(`fault-proxy: mode ${proxy.mode}\n`);
  }
  await proxy.close();
  return 0;
}

void main().then((c) => process.exit(c));
