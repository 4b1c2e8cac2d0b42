import * as fs from 'node:fs';

/** The CPU's feature flags from a /proc/cpuinfo text (its first "flags" line), [] when it has none. */
export function flagsOf(cpuinfo: string): string[] {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/.test(l));
  return line ? line.replace(/^flags\s*:/, '').trim().split(/\s+/) : [];
}

/** This machine's CPU flags (Linux); [] where /proc/cpuinfo cannot be read. */
export function cpuFlags(): string[] {
  try {
    return flagsOf(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return [];
  }
}
