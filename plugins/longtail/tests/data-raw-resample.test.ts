import sharp from 'sharp';
import { loadTf } from '@iccl/tf-backend';
import { readJpegHeader } from '../src/data/jpeg-header';
import { decodeRawRgb } from '../src/data/raw-transform';
import { resampleRgb } from '../src/data/resample';
import { rngFor } from '../src/data/rng';
import { nativeJpegDecoder } from '../src/data/tf-jpeg';
import { nativeResizer, resizePlan } from '../src/data/tf-resize';
import { decodeBuffer, randomResizedCropBox, transformOptions } from '../src/data/transforms';

// The global Math is slow to look up inside jest's VM context; the loops below run per value.
const Math = globalThis.Math;

loadTf('cpu');

/** A colour pattern with edges and texture, W x H RGB. */
function pattern(W: number, H: number): Uint8Array {
  const px = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 3;
      px[o] = (x * 37 + y * 11) & 255;
      px[o + 1] = Math.round(128 + 120 * Math.sin(x / 5) * Math.cos(y / 7));
      px[o + 2] = (x ^ y) & 255;
    }
  }
  return px;
}

/** libtensorflow's resize of the plan's window (what tf-jpeg.ts runs after decoding), floats 0..255. */
function tfResize(px: Uint8Array, W: number, p: ReturnType<typeof resizePlan>, size: number): Float32Array {
  const r = nativeResizer()!;
  const w = p.x1 - p.x0;
  const h = p.y1 - p.y0;
  const win = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) win.set(px.subarray(((p.y0 + y) * W + p.x0) * 3, ((p.y0 + y) * W + p.x1) * 3), y * w * 3);
  const ids: number[] = [];
  try {
    const t = r.b.createTensor([1, h, w, 3], r.b.TF_UINT8, win);
    ids.push(t);
    return Float32Array.from(r.b.tensorDataSync(r.resizeWindow(t, p, size, ids)) as Float32Array);
  } finally {
    for (const id of ids) r.b.deleteTensor(id);
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('raw store records: the resize in JavaScript', () => {
  const W = 341;
  const H = 256;
  const px = pattern(W, H);
  const size = 224;
  const one = [1, 1, 1];
  const zero = [0, 0, 0];

  test('equals libtensorflow (ResizeBilinear / ScaleAndTranslate) on random-resized-crop boxes, eval and no-antialias windows', () => {
    let bilinear = 0;
    let worst = 0;
    for (let i = 0; i < 60; i++) {
      const b = randomResizedCropBox(W, H, [0.08, 1], [3 / 4, 4 / 3], rngFor(5, i));
      const context = i % 10 === 9;
      const antialias = i % 7 !== 3;
      const p = resizePlan(b.left + (context ? 0.37 : 0), b.top, b.width, b.height, W, H, size, context, antialias);
      if (p.bilinear) bilinear++;
      const ours = resampleRgb(px, W, p, size, antialias, false, one, zero, new Float32Array(size * size * 3));
      worst = Math.max(worst, maxDiff(ours, tfResize(px, W, p, size)));
    }
    expect(bilinear).toBeGreaterThan(5);
    expect(bilinear).toBeLessThan(55);
    // float sums and sample positions (TensorFlow) against double (ours): rounding, not a different filter
    // (a float position error of ~2e-5 px on this pattern's 255-level steps; measured 5e-3 of a level)
    expect(worst).toBeLessThan(0.02);
  });

  test('the flip mirrors the output and mul/add apply per channel', () => {
    const p = resizePlan(10, 20, 200, 180, W, H, size, false, true);
    const plain = resampleRgb(px, W, p, size, true, false, one, zero, new Float32Array(size * size * 3));
    const flipped = resampleRgb(px, W, p, size, true, true, [2, 3, 4], [1, -1, 0.5], new Float32Array(size * size * 3));
    for (const [y, x] of [[0, 0], [17, 200], [223, 223]]) {
      for (let c = 0; c < 3; c++) {
        const v = plain[(y * size + x) * 3 + c];
        expect(flipped[(y * size + (size - 1 - x)) * 3 + c]).toBeCloseTo(v * [2, 3, 4][c] + [1, -1, 0.5][c], 3);
      }
    }
  });

  test('a raw record gives the floats the native JPEG path gives for the same pixels (same draws, train and eval)', async () => {
    // the pixels a JPEG decodes to (libvips and libtensorflow decode it bit-identically): raw vs JPEG input.
    // 4:4:4: with subsampled chroma, libjpeg's upsampling at the edge of a cropped decode window differs
    // from the full decode's (measured: up to 0.6 normalised units on the window's last column)
    const jpeg = await sharp(Buffer.from(px), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer();
    const decoded = await sharp(jpeg).raw().toBuffer();
    expect(readJpegHeader(jpeg)).not.toBeNull();
    expect(nativeJpegDecoder()).not.toBeNull();
    const t = transformOptions('imagenet', { colorJitter: 0 });
    for (const [train, seed] of [[true, 1], [true, 2], [true, 3], [false, 4]] as const) {
      const fromJpeg = await decodeBuffer(jpeg, 'x.jpg', t, rngFor(seed), train);
      const out = new Float32Array(size * size * 3);
      const fromRaw = await decodeRawRgb(decoded, W, H, 'record 0', t, rngFor(seed), train, out);
      expect(fromRaw).toBe(out);
      expect(maxDiff(fromRaw, fromJpeg)).toBeLessThan(1e-4);
    }
  });

  test('colour jitter takes the same draws after the geometry', async () => {
    const t = transformOptions('imagenet', { colorJitter: 0.4 });
    const draws: number[] = [];
    const rng = rngFor(9);
    const counting = () => {
      const v = rng();
      draws.push(v);
      return v;
    };
    const x = await decodeRawRgb(px, W, H, 'r', t, counting, true);
    expect(x.length).toBe(size * size * 3);
    // box (4 draws when the first try fits), flip, then brightness, contrast, saturation
    expect(draws.length).toBeGreaterThanOrEqual(8);
    expect(x.every((v) => Number.isFinite(v))).toBe(true);
  });

  test('a record of the wrong length is an error naming it', async () => {
    await expect(decodeRawRgb(px.subarray(3), W, H, 'shard-00000 record 7', transformOptions('imagenet'), rngFor(1), true)).rejects.toThrow('shard-00000 record 7');
  });
});
