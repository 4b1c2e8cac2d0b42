import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from './helpers';

export interface FakeGpu {
  name: string;
  memoryMiB: number;
}

export const H100: FakeGpu = { name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 };
export const FAKE_DRIVER = '550.54.15';
export const FAKE_CUDA = '12.4';

/**
 * A stand-in `nvidia-smi` (a shell script) reporting `gpus`, answering the three forms the driver
 * uses (`--query-gpu=...`, `-L`, and the bare table whose header names the CUDA version).
 * Returns the folder to put first on PATH.
 */
export function fakeNvidiaSmi(gpus: FakeGpu[] | number, opts: { driver?: string; cuda?: string } = {}): string {
  const list = typeof gpus === 'number' ? Array.from({ length: gpus }, () => H100) : gpus;
  const driver = opts.driver ?? FAKE_DRIVER;
  const cuda = opts.cuda ?? FAKE_CUDA;
  const dir = tmpDir('fake-smi');
  const q = list.map((g, i) => `${i}, ${g.name}, ${g.memoryMiB}, ${driver}`).join('\n');
  const l = list.map((g, i) => `GPU ${i}: ${g.name} (UUID: GPU-00000000-0000-0000-0000-00000000000${i})`).join('\n');
  const header = `| NVIDIA-SMI ${driver}              Driver Version: ${driver}      CUDA Version: ${cuda}     |`;
  const script = [
    '#!/bin/sh',
    'case "$1" in',
    `  --query-gpu=index,name,memory.total,driver_version) cat <<'EOF'\n${q}\nEOF\n  ;;`,
    `  -L) cat <<'EOF'\n${l}\nEOF\n  ;;`,
    `  '') cat <<'EOF'\n${header}\nEOF\n  ;;`,
    '  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;',
    'esac',
    '',
  ].join('\n');
  const file = path.join(dir, 'nvidia-smi');
  fs.writeFileSync(file, script, { mode: 0o755 });
  return dir;
}

/** PATH with `dir` first. */
export function pathWith(dir: string): string {
  return `${dir}${path.delimiter}${process.env.PATH ?? ''}`;
}
