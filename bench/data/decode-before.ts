// The training-path decode as it was before issue 13 (for bench/data/decode.ts's "before" column):
// a libvips metadata call for the size, then cut the crop box out of the full-size decode and resize.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { finish, randomResizedCropBox, resizeShorter } from '../../plugins/longtail/src/data/transforms';
import type { TransformOptions } from '../../plugins/longtail/src/data/types';

export async function decodeBefore(path: string, t: TransformOptions, rng: () => number, train: boolean): Promise<Float32Array> {
  const buf = await readFile(path);
  const meta = await sharp(buf).metadata();
  const W = meta.autoOrient?.width ?? meta.width!;
  const H = meta.autoOrient?.height ?? meta.height!;
  const size = t.size;
  let img = sharp(buf, { failOn: 'warning', autoOrient: true, sequentialRead: true });
  if (train) {
    const box = randomResizedCropBox(W, H, t.scale, t.ratio, rng);
    img = img.extract(box).resize(size, size, { fit: 'fill', kernel: 'linear' });
    if (t.flip && rng() < 0.5) img = img.flop();
  } else {
    const [w, h] = resizeShorter(W, H, t.evalResize);
    img = img.resize(w, h, { fit: 'fill', kernel: 'linear' }).extract({ left: Math.floor((w - size) / 2), top: Math.floor((h - size) / 2), width: size, height: size });
  }
  const { data, info } = await img.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error('bench fixtures are RGB');
  return finish(data, t, rng, train);
}
