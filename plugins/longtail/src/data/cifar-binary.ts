import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DataFormatError } from './errors';
import { sharedBytes } from './memory-dataset';

const PIXELS = 3072;

/** Official CIFAR binary file names. CIFAR-100 has coarse + fine label bytes per record. */
export const CIFAR_FILES = {
  10: { train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'], test: ['test_batch.bin'], meta: 'batches.meta.txt', folder: 'cifar-10-batches-bin' },
  100: { train: ['train.bin'], test: ['test.bin'], meta: 'fine_label_names.txt', folder: 'cifar-100-binary' },
} as const;

export interface CifarArrays {
  /** uint8 HWC (converted from the files' CHW), shared memory */
  pixels: Uint8Array;
  labels: Int32Array;
}

/** Finds the folder holding the batches: `dir` itself or its official sub-folder. */
export async function findCifarDir(dir: string, classes: 10 | 100): Promise<string | null> {
  const f = CIFAR_FILES[classes];
  for (const d of [dir, join(dir, f.folder)]) {
    try {
      if ((await stat(join(d, f.train[0]))).isFile()) return d;
    } catch {
      /* try the next */
    }
  }
  return null;
}

/**
 * Reads CIFAR binary batches: records of [label] (CIFAR-10) or [coarse, fine] (CIFAR-100, fine is used)
 * followed by 3072 bytes of R, G, B planes of 32x32. Validates sizes and label ranges.
 */
export async function readCifarBinary(dir: string, classes: 10 | 100, split: 'train' | 'test'): Promise<CifarArrays> {
  const files = CIFAR_FILES[classes][split];
  const labelBytes = classes === 10 ? 1 : 2;
  const rec = labelBytes + PIXELS;
  const bufs: Buffer[] = [];
  for (const f of files) {
    const p = join(dir, f);
    let b: Buffer;
    try {
      b = await readFile(p);
    } catch (e) {
      throw new DataFormatError(p, '', (e as NodeJS.ErrnoException).code === 'ENOENT' ? `file not found: expected the official CIFAR-${classes} binary batches (${files.join(', ')})` : (e as Error).message);
    }
    if (b.length === 0 || b.length % rec !== 0) {
      throw new DataFormatError(basename(p), 'size', `${b.length} bytes: expected a positive multiple of ${rec} (${labelBytes} label byte(s) + ${PIXELS} pixels per record)`);
    }
    for (let r = 0; r < b.length / rec; r++) {
      const y = b[r * rec + labelBytes - 1];
      if (y >= classes) throw new DataFormatError(basename(p), `record ${r}`, `label ${y}: expected a class in [0, ${classes})`);
      if (labelBytes === 2 && b[r * rec] >= 20) throw new DataFormatError(basename(p), `record ${r}`, `coarse label ${b[r * rec]}: expected a value in [0, 20)`);
    }
    bufs.push(b);
  }
  const n = bufs.reduce((a, b) => a + b.length / rec, 0);
  const pixels = sharedBytes(n * PIXELS);
  const labels = new Int32Array(n);
  let k = 0;
  for (const b of bufs) {
    for (let r = 0; r < b.length / rec; r++, k++) {
      const o = r * rec;
      labels[k] = b[o + labelBytes - 1];
      const src = o + labelBytes;
      const dst = k * PIXELS;
      // CHW planes -> HWC
      for (let p = 0; p < 1024; p++) {
        pixels[dst + p * 3] = b[src + p];
        pixels[dst + p * 3 + 1] = b[src + 1024 + p];
        pixels[dst + p * 3 + 2] = b[src + 2048 + p];
      }
    }
  }
  return { pixels, labels };
}

/** Class names from the meta file next to the batches, or the numbers when it is absent. */
export async function readCifarClassNames(dir: string, classes: 10 | 100): Promise<string[]> {
  try {
    const names = (await readFile(join(dir, CIFAR_FILES[classes].meta), 'utf8')).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    if (names.length === classes) return names;
  } catch {
    /* fall through */
  }
  return Array.from({ length: classes }, (_, i) => String(i));
}
