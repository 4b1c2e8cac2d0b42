import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '@iccl/trainer-api';
import { DownloadError } from './errors';
import { CIFAR_FILES, findCifarDir } from './cifar-binary';

const run = promisify(execFile);

/** The official binary archives and their published MD5 sums. */
export const CIFAR_ARCHIVES = {
  10: { url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' },
  100: { url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' },
} as const;

/**
 * Downloads and unpacks the official CIFAR binary archive into `dir` (unless the batches are already there)
 * and returns the folder with the batches. Any network failure becomes one DownloadError line that says
 * where to put the files by hand.
 */
export async function downloadCifar(classes: 10 | 100, dir: string, opts: { url?: string; timeoutMs?: number; log?: Logger; signal?: AbortSignal } = {}): Promise<string> {
  const have = await findCifarDir(dir, classes);
  if (have) return have;
  const { url: official, md5 } = CIFAR_ARCHIVES[classes];
  const url = opts.url ?? official;
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  const manual = `place the official ${CIFAR_FILES[classes].folder} folder under ${dir} (or use kind 'image-folder' / the synthetic set)`;
  opts.log?.info(`downloading CIFAR-${classes} from ${url}`);
  let body: Buffer;
  try {
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30000), ...(opts.signal ? [opts.signal] : [])];
    const res = await fetch(url, { signal: AbortSignal.any(signals) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = Buffer.from(await res.arrayBuffer());
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new DownloadError(`cannot download CIFAR-${classes}: ${host} cannot be reached (${why}); ${manual}`);
  }
  if (!opts.url) {
    const got = createHash('md5').update(body).digest('hex');
    if (got !== md5) throw new DownloadError(`cannot download CIFAR-${classes}: archive md5 ${got}, expected ${md5}; ${manual}`);
  }
  await mkdir(dir, { recursive: true });
  const archive = join(dir, `.cifar-${classes}.${process.pid}.tar.gz`);
  await writeFile(archive, body);
  try {
    await run('tar', ['-xzf', archive, '-C', dir]);
  } finally {
    await rm(archive, { force: true });
  }
  const found = await findCifarDir(dir, classes);
  if (!found) throw new DownloadError(`cannot use the CIFAR-${classes} archive from ${host}: no ${CIFAR_FILES[classes].train[0]} inside; ${manual}`);
  return found;
}
