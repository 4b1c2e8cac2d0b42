import * as fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__icclMlflowServers ?? []).map((s) => s.stop()));
  if (globalThis.__icclMlflowTmp) fs.rmSync(globalThis.__icclMlflowTmp, { recursive: true, force: true });
}
