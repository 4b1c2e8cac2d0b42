import type { Normalization } from './types';

// A module-local binding: looking up the global `Math` is very slow inside jest's VM context, and these
// functions run per pixel / per draw.
const Math = globalThis.Math;

/** Per-data-set channel statistics (RGB, pixels in [0, 1]) as used by the field's reference code. */
export const NORMALIZATION: Record<'cifar10' | 'cifar100' | 'imagenet' | 'inat18', Normalization> = {
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  inat18: { mean: [0.466, 0.471, 0.38], std: [0.195, 0.194, 0.192] },
};

/** Channel mean/std of uint8 HWC pixels, scaled to [0, 1] (used for the synthetic set). */
export function channelStats(pixels: Uint8Array): Normalization {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  const n = pixels.length / 3;
  for (let i = 0; i < pixels.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = pixels[i + c] / 255;
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const mean = sum.map((s) => s / n) as [number, number, number];
  const std = sq.map((s, c) => Math.sqrt(Math.max(s / n - mean[c] * mean[c], 1e-12))) as [number, number, number];
  return { mean, std };
}
