import { ImageDecodeError } from './errors';
import { resizePlan } from './tf-resize';
import { finishWindow, imagenetGeometry, sourceBox } from './transforms';
import type { TransformOptions } from './types';

/**
 * The imagenet-style transform of raw RGB pixels (a prepared store in raw format): the same geometry and
 * the same draws as decodeFile, and the native JPEG path's window, filter and finishing pass
 * (transforms.ts finishWindow, resample.ts), so a raw record gives the floats a JPEG record of the same
 * pixels gives. One pass from the record's bytes into `out`: no decode, no tensor, no libvips pipeline
 * (which cost ~2 CPU-ms for a 224 crop of a 256 px image, more than decoding the JPEG, measured with
 * bench/data/store-profile.ts). Needs no TensorFlow.
 */
export async function decodeRawRgb(px: Uint8Array, W: number, H: number, name: string, t: TransformOptions, rng: () => number, train: boolean, out?: Float32Array): Promise<Float32Array> {
  if (px.length !== W * H * 3) throw new ImageDecodeError(name, `${px.length} bytes: expected ${W} x ${H} x 3`);
  if (t.style !== 'imagenet') throw new ImageDecodeError(name, `raw pixels take the imagenet-style transform, not '${t.style}'`);
  const g = imagenetGeometry(W, H, t, rng, train);
  const b = sourceBox(g, W, H, t.size);
  const plan = resizePlan(b.left, b.top, b.width, b.height, W, H, t.size, g.context, t.antialias ?? true);
  return finishWindow(px, W, plan, g.flip, t, rng, train, out);
}
