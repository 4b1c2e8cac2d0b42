import * as fs from 'node:fs';

export type Device = 'auto' | 'cpu' | 'gpu' | 'js';
export const DEVICES: readonly Device[] = ['auto', 'cpu', 'gpu', 'js'];

/** A failure to provide the requested backend; `message` is one line saying what to do. */
export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

export function parseDevice(value: string | undefined): Device {
  const v = (value ?? 'auto').toLowerCase();
  if ((DEVICES as readonly string[]).includes(v)) return v as Device;
  throw new BackendError(`device: got ${JSON.stringify(value)}, expected one of ${DEVICES.join(', ')}`);
}

/** True when the NVIDIA kernel driver exposes a device: cheap, and needs no CUDA library. */
export function cudaDevicePresent(): boolean {
  return fs.existsSync('/dev/nvidia0') || fs.existsSync('/proc/driver/nvidia/version');
}

export function packageInstalled(name: string): boolean {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}
