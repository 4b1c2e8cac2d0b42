import { transformPixels } from './transforms';
import type { ImageDataset, TransformOptions, WorkerRecipe } from './types';

/**
 * A split held in memory as uint8 HWC RGB (synthetic and CIFAR binary sets: small enough to keep).
 * The pixels live in shared memory so worker threads can read them without a copy.
 */
export class MemoryDataset implements ImageDataset {
  readonly size: number;
  readonly shape: [number, number, number];
  constructor(
    readonly name: string,
    readonly pixels: Uint8Array,
    readonly labels: Int32Array,
    readonly numClasses: number,
    readonly height: number,
    readonly width: number,
    readonly transform: TransformOptions,
    private readonly ids?: (i: number) => string,
  ) {
    this.size = labels.length;
    if (pixels.length !== this.size * height * width * 3) {
      throw new Error(`${name}: ${pixels.length} pixel bytes for ${this.size} images of ${height}x${width}x3: expected ${this.size * height * width * 3}`);
    }
    this.shape = [transform.size, transform.size, 3];
  }

  /** Raw uint8 HWC pixels of item i (a view, not a copy). */
  raw(i: number): Uint8Array {
    const n = this.height * this.width * 3;
    return this.pixels.subarray(i * n, (i + 1) * n);
  }

  async load(i: number, rng: () => number, train: boolean): Promise<Float32Array> {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`${this.name}: item ${i} out of range [0, ${this.size})`);
    return transformPixels(this.raw(i), this.height, this.width, this.transform, rng, train);
  }

  itemId(i: number): string {
    return this.ids ? this.ids(i) : `${this.name}:${i}`;
  }

  workerRecipe(): WorkerRecipe {
    return { kind: 'memory', pixels: this.pixels, height: this.height, width: this.width, transform: this.transform };
  }

  /** A new data set of the given items (the long-tailed subset); pixels are copied into fresh shared memory. */
  subset(indices: Int32Array, name = this.name): MemoryDataset {
    const n = this.height * this.width * 3;
    const px = sharedBytes(indices.length * n);
    const labels = new Int32Array(indices.length);
    indices.forEach((src, k) => {
      px.set(this.raw(src), k * n);
      labels[k] = this.labels[src];
    });
    const ids = this.ids;
    return new MemoryDataset(name, px, labels, this.numClasses, this.height, this.width, this.transform, (k) => (ids ? ids(indices[k]) : `${this.name}:${indices[k]}`));
  }
}

/** A zeroed Uint8Array over a SharedArrayBuffer. */
export function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}
