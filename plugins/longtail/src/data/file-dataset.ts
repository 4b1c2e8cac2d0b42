import { decodeFile } from './transforms';
import type { ImageDataset, TransformOptions, WorkerRecipe } from './types';

/**
 * A split of image files read on demand: only paths and labels stay in memory, so its size is bounded by
 * the index, not by the images.
 */
export class FileDataset implements ImageDataset {
  readonly size: number;
  readonly shape: [number, number, number];
  constructor(
    readonly name: string,
    /** absolute paths */
    readonly paths: string[],
    readonly labels: Int32Array,
    readonly numClasses: number,
    readonly transform: TransformOptions,
    /** prefix stripped from paths in item ids, so digests do not depend on where the data lives */
    private readonly root = '',
  ) {
    if (paths.length !== labels.length) throw new Error(`${name}: ${paths.length} paths but ${labels.length} labels: expected equal numbers`);
    this.size = paths.length;
    this.shape = [transform.size, transform.size, 3];
  }

  load(i: number, rng: () => number, train: boolean): Promise<Float32Array> {
    if (!(i >= 0 && i < this.size)) return Promise.reject(new RangeError(`${this.name}: item ${i} out of range [0, ${this.size})`));
    return decodeFile(this.paths[i], this.transform, rng, train);
  }

  itemId(i: number): string {
    const p = this.paths[i];
    return this.root && p.startsWith(this.root) ? p.slice(this.root.length).replace(/^[\\/]+/, '') : p;
  }

  workerRecipe(): WorkerRecipe {
    return { kind: 'files', paths: this.paths, transform: this.transform };
  }

  subset(indices: Int32Array, name = this.name): FileDataset {
    const paths = Array.from(indices, (i) => this.paths[i]);
    const labels = Int32Array.from(indices, (i) => this.labels[i]);
    return new FileDataset(name, paths, labels, this.numClasses, this.transform, this.root);
  }
}
