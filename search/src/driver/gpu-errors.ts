/**
 * Telling a CUDA failure from any other: a trial that died of one says so in its fail reason, with
 * the GPU it ran on, so a bad card or an out-of-memory setting shows up in the study, not only in logs.
 */
import type { Readable } from 'node:stream';
import type { GpuInfo } from './gpu-smi';

/** What CUDA, cuDNN, cuBLAS and TensorFlow's GPU allocator print when they fail. */
const CUDA_ERROR_PATTERNS: readonly RegExp[] = [
  /\bCUDA_ERROR_[A-Z_]+/,
  /\bcuda(?:Error[A-Za-z]+|GetErrorString)\b/,
  /\bCUDA (?:error|driver version is insufficient)/i,
  /\bCUDNN_STATUS_[A-Z_]+/,
  /\bCUBLAS_STATUS_[A-Z_]+/,
  /\bOOM when allocating tensor\b/,
  /\bfailed to (?:allocate|alloc)\b.*\b(?:GPU|device|cuda)\b/i,
  /\bResourceExhaustedError\b.*\bGPU\b/,
  /\bno kernel image is available for execution on the device\b/,
];

/** The first line of `text` that names a CUDA failure, trimmed to 300 characters; null if none. */
export function findCudaError(text: string): string | null {
  for (const line of text.split('\n')) {
    if (CUDA_ERROR_PATTERNS.some((re) => re.test(line))) return line.trim().slice(0, 300);
  }
  return null;
}

/** `reason` with the CUDA failure and the GPU appended, or null when neither text names a CUDA failure. */
export function cudaFailReason(reason: string, stderrTail: string, gpu: GpuInfo): string | null {
  const line = findCudaError(reason) ?? findCudaError(stderrTail);
  if (!line) return null;
  const where = `GPU ${gpu.index}${gpu.name ? ` (${gpu.name})` : ''}`;
  return reason.includes(line) ? `${reason} [CUDA error on ${where}]` : `${reason} [CUDA error on ${where}: ${line}]`;
}

/**
 * Passes a trial process's stderr through to ours and keeps its last `limit` characters, which is
 * where a native crash (abort, segfault) leaves its only explanation.
 */
export class StderrTail {
  private buf = '';
  private readonly ended: Promise<void>;

  constructor(
    stream: Readable | null,
    private readonly limit = 32_768,
    sink: NodeJS.WritableStream = process.stderr,
  ) {
    stream?.on('data', (d: Buffer) => {
      sink.write(d);
      this.buf = (this.buf + d.toString('utf8')).slice(-this.limit);
    });
    this.ended = stream ? new Promise((resolve) => stream.once('close', () => resolve())) : Promise.resolve();
  }

  text(): string {
    return this.buf;
  }

  /** The tail once the stream has closed (a process's last words can come after its exit event), or after `waitMs`. */
  async final(waitMs = 2000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ended, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    return this.buf;
  }
}
