import * as path from 'node:path';

/**
 * Normalises a relative artifact folder/file path to forward slashes, refusing anything that would
 * leave the run's artifact root: `..` segments, absolute paths, drive letters, NUL bytes.
 * '' and '.' mean the root.
 */
export function normalizeArtifactPath(p: string | undefined): string {
  if (p === undefined) return '';
  if (p.includes('\0')) throw new Error(`artifact path ${JSON.stringify(p)}: contains a NUL byte`);
  const slashed = p.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) {
    throw new Error(`artifact path ${JSON.stringify(p)}: expected a relative path inside the run's artifacts, got an absolute one`);
  }
  const norm = path.posix.normalize(slashed);
  if (norm === '..' || norm.startsWith('../')) {
    throw new Error(`artifact path ${JSON.stringify(p)}: expected a path inside the run's artifacts, it escapes with '..'`);
  }
  return norm === '.' || norm === './' ? '' : norm.replace(/\/+$/, '').replace(/^\.\//, '');
}

/** Percent-encodes each segment of a normalised artifact path for a URL. */
export function encodeArtifactPath(p: string): string {
  return p
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}
