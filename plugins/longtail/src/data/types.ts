import type { Logger } from '@iccl/trainer-api';

/** Class-size groups of the field's convention (Kang et al.): many > `many`, few < `few`, medium between. */
export interface ShotThresholds {
  /** a class with MORE than this many training images is "many-shot" (default 100) */
  many: number;
  /** a class with FEWER than this many training images is "few-shot" (default 20) */
  few: number;
}

/** What a data set is: classes, per-class counts, the Many/Medium/Few assignment and a content digest. */
export interface DatasetDescription {
  name: string;
  numClasses: number;
  classNames: string[];
  trainCounts: number[];
  /** images per class of the validation split (what a search selects on; see validation.ts) */
  valCounts: number[];
  testCounts: number[];
  thresholds: ShotThresholds;
  /** class indices of each group, by training count (inat18: by the full train2018 counts, see groupCounts) */
  groups: { many: number[]; medium: number[]; few: number[] };
  /** set when the groups are drawn from other counts than trainCounts: inat18's full train2018, before the
   *  validation hold-out, so its Many/Medium/Few are the literature's */
  groupCounts?: number[];
  /** how the validation split was made, in words (e.g. "500 per class from the images the profile leaves out") */
  valRule: string;
  /** sha256 (hex) over the description and the exact item lists (ids + labels) of the three splits */
  digest: string;
  /** where the data came from: a path, or e.g. "synthetic(seed=0)" */
  source: string;
  /** the imbalance factor applied, when the set was made long-tailed here */
  imbalanceFactor?: number;
  /** set when the images are read from a prepared store (prepared-store.ts): its parameters and the originals' source */
  prepared?: { side: number; format: 'jpeg' | 'raw'; quality: number; from: string };
}

/** Per-channel normalisation applied after scaling pixels to [0, 1]. */
export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

/**
 * A recipe that rebuilds a data set's `load` in a worker thread: only plain data (and shared memory)
 * so it can cross `postMessage`.
 */
export type WorkerRecipe =
  | { kind: 'memory'; pixels: Uint8Array; height: number; width: number; transform: TransformOptions }
  | { kind: 'files'; paths: string[]; transform: TransformOptions }
  /** a prepared store (store-dataset.ts): shard files and per item ITEM_ROW u32 in shared memory */
  | { kind: 'store'; shards: string[]; rows: Uint32Array; format: 'jpeg' | 'raw'; transform: TransformOptions; rebuild: string };

/** How items are turned into network input (see transforms.ts). */
export interface TransformOptions {
  /** 'cifar': pad + random crop + flip at the native size; 'imagenet': random-resized-crop / resize+centre-crop */
  style: 'cifar' | 'imagenet';
  /** output side in pixels (square) */
  size: number;
  /** side the evaluation path resizes the shorter edge to before the centre crop ('imagenet' only) */
  evalResize: number;
  /** zero padding before the random crop ('cifar' only) */
  pad: number;
  /** random-resized-crop scale range (area fraction) and aspect range */
  scale: [number, number];
  ratio: [number, number];
  /** horizontal flip with probability 0.5 during training */
  flip: boolean;
  /**
   * Random-resized-crop resampling when decoded through native TensorFlow (tf-jpeg.ts): true (default)
   * = antialiased bilinear, Pillow's and so torchvision's filter; false = plain 2 x 2 bilinear (TensorFlow's
   * and torchvision-on-tensors' antialias=False), which aliases a little on boxes more than 1x the output
   * but costs a third. The sharp path and the eval path always antialias.
   */
  antialias?: boolean;
  /** colour jitter strength (brightness, contrast, saturation factors in [1-j, 1+j]); 0 switches it off */
  colorJitter: number;
  normalization: Normalization;
}

/** One split of a data set. */
export interface ImageDataset {
  readonly size: number;
  readonly numClasses: number;
  readonly labels: Int32Array;
  /** output shape [H, W, C] of `load` */
  readonly shape: [number, number, number];
  /** decode + transform item i into NHWC float32 (H*W*C); `train` selects the augmenting path */
  load(i: number, rng: () => number, train: boolean): Promise<Float32Array>;
  /** a stable id of item i (a relative path, or "split:index") used in digests and warnings */
  itemId(i: number): string;
  /** present when items can be decoded in worker threads */
  workerRecipe?(): WorkerRecipe;
}

export interface DataSplit {
  train: ImageDataset;
  /** disjoint from train and test; the split trainers evaluate on during training (validation.ts) */
  val: ImageDataset;
  /** read once per trial, after the last stage */
  test: ImageDataset;
  description: DatasetDescription;
  inputShape: [number, number, number];
}

export type DatasetKind =
  | 'synthetic'
  | 'cifar10-lt'
  | 'cifar100-lt'
  | 'image-folder'
  | 'inat18'
  | 'imagenet-lt'
  | 'cifar-binary';

export interface DatasetSpec {
  kind: DatasetKind;
  /** root folder of the data on disk (not used by 'synthetic') */
  dataDir?: string;
  /** n_max / n_min of the exponential profile; 1 keeps the source balanced. Applies to synthetic,
   *  cifar10-lt, cifar100-lt and image-folder. */
  imbalanceFactor?: number;
  /** chooses which images the long-tailed subset keeps, and generates the synthetic set */
  seed?: number;
  /** output side in pixels */
  imageSize?: number;
  /** Many/Medium/Few thresholds (default many 100, few 20) */
  thresholds?: ShotThresholds;
  /** override the transform style ('cifar' for small images, 'imagenet' for 224 crops) */
  transform?: Partial<TransformOptions>;
  /** synthetic: number of classes (default 10, at most 20) */
  numClasses?: number;
  /** synthetic and long-tail construction: images of the largest class (default: synthetic 500, else the
   *  smallest class of the balanced source) */
  maxPerClass?: number;
  /** synthetic: balanced test images per class (default 100) */
  testPerClass?: number;
  /** validation images per class (0 or unset: the kind's default): cifar10-lt 500, cifar100-lt 20 (from the images
   *  the long-tail profile leaves out), synthetic = testPerClass (generated), inat18 at most 3 (held out) */
  valPerClass?: number;
  /** the hold-out fraction of each class's training images (image-folder without val/, cifar-binary at IF 1,
   *  inat18 together with valPerClass); in (0, 0.5], default 0.1 */
  valSplit?: number;
  /** image-folder: the split folders, relative to dataDir or absolute, each root/<class>/<image> (default 'train'
   *  and 'test'; 'val' is tried when 'test' is absent) */
  trainDir?: string;
  testDir?: string;
  /** image-folder: the validation folder (default 'val' when present and not the test folder; else a hold-out) */
  valDir?: string;
  /** inat18: which files to read: COCO JSON ('json', default when present) or the txt lists ('txt') */
  inatFormat?: 'json' | 'txt';
  /** inat18 / imagenet-lt: the split used as test: inat18 'val' (val2018, its only choice), imagenet-lt 'test'
   *  (ImageNet_LT_test.txt, its only choice: ImageNet_LT_val.txt is the validation split) */
  testSplit?: 'val' | 'test';
  /** inat18 / imagenet-lt: stat every listed image at load and fail on the first missing one (default false:
   *  missing images are found when decoded, then skipped with a warning or an error under `strict`) */
  verifyFiles?: boolean;
  /** imagenet-lt: folder of the ImageNet_LT_*.txt lists (default dataDir) */
  listDir?: string;
  /** where prepared caches live (inat18 index: <dataDir>/.cache, else $ICCL_DATA_CACHE or <repo>/.data when that is read-only; CIFAR-10 unpack: $ICCL_DATA_CACHE or <repo>/.data) */
  cacheDir?: string;
  /** image files (inat18, imagenet-lt, image-folder, 224-style): read the prepared store when one was built
   *  (default true = the default parameters, or the parameters given); false or ICCL_PREPARED=off reads the originals */
  prepared?: boolean | Partial<{ side: number; format: 'jpeg' | 'raw'; quality: number }>;
  /** cifar10-lt/cifar100-lt: download the official binary archives when dataDir has none */
  download?: boolean;
}

export interface LoadOptions {
  signal?: AbortSignal;
  log?: Logger;
}
