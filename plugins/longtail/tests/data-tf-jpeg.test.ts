import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadTf } from '@iccl/tf-backend';
import { readJpegHeader } from '../src/data/jpeg-header';
import { rngFor } from '../src/data/rng';
import {
  nativeJpegDecoder,
  nativeJpegSupports,
  orientedIndexing,
  orientFlipAffine,
  storedBox,
} from '../src/data/tf-jpeg';
import { decodeFile, randomResizedCropBox, resizeShorter, transformOptions } from '../src/data/transforms';

// The global Math is slow to look up inside jest's VM context; the references below run per pixel.
const Math = globalThis.Math;

loadTf('cpu');
const dir = mkdtempSync(join(tmpdir(), 'lt-tfjpeg-'));
const identity = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };

/** A colour pattern with edges and texture (so a wrong offset, axis or flip shows), as a quality-95 JPEG. */
async function pattern(width: number, height: number): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      px[o] = Math.round((255 * x) / (width - 1));
      px[o + 1] = Math.round((255 * y) / (height - 1));
      px[o + 2] = Math.round(128 + 100 * Math.sin(x / 9) * Math.cos(y / 13));
    }
  }
  return sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** Fully decoded, EXIF-oriented RGB from libvips (an independent decoder), as floats. */
async function sharpRaw(buf: Buffer): Promise<{ px: Float64Array; W: number; H: number }> {
  const { data, info } = await sharp(buf, { autoOrient: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { px: Float64Array.from(data), W: info.width, H: info.height };
}

/**
 * Reference antialiased bilinear resize, written from Pillow's resample rule: output pixel i of n samples
 * the source at centre (i + 0.5) * scale, the triangle kernel stretched by max(scale, 1), the weights of
 * the pixels inside the image renormalised to 1. One axis of an interleaved RGB image.
 */
function resizeAxis(src: Float64Array, W: number, H: number, n: number, horizontal: boolean): Float64Array {
  const inLen = horizontal ? W : H;
  const scale = inLen / n;
  const support = Math.max(scale, 1);
  const oW = horizontal ? n : W;
  const oH = horizontal ? H : n;
  const out = new Float64Array(oW * oH * 3);
  for (let i = 0; i < n; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support + 0.5));
    const hi = Math.min(inLen, Math.floor(centre + support + 0.5));
    const w: number[] = [];
    let sum = 0;
    for (let j = lo; j < hi; j++) {
      const v = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      w.push(v);
      sum += v;
    }
    for (let q = 0; q < (horizontal ? H : W); q++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let j = lo; j < hi; j++)
          acc += w[j - lo] * src[horizontal ? (q * W + j) * 3 + c : (j * W + q) * 3 + c];
        out[horizontal ? (q * oW + i) * 3 + c : (i * oW + q) * 3 + c] = acc / sum;
      }
    }
  }
  return out;
}
const resize = (src: Float64Array, W: number, H: number, w: number, h: number) =>
  resizeAxis(resizeAxis(src, W, H, w, true), w, H, h, false);
function cut(
  src: Float64Array,
  W: number,
  b: { left: number; top: number; width: number; height: number },
): Float64Array {
  const out = new Float64Array(b.width * b.height * 3);
  for (let y = 0; y < b.height; y++)
    out.set(
      src.subarray(((b.top + y) * W + b.left) * 3, ((b.top + y) * W + b.left + b.width) * 3),
      y * b.width * 3,
    );
  return out;
}
function diff(a: ArrayLike<number>, b: ArrayLike<number>): { mean: number; max: number } {
  expect(a.length).toBe(b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

const dec = nativeJpegDecoder()!;

describe('native TensorFlow JPEG path', () => {
  test('is active once tfjs-node is loaded, and off with ICCL_JPEG_DECODER=sharp', () => {
    expect(dec).not.toBeNull();
    process.env.ICCL_JPEG_DECODER = 'sharp';
    try {
      expect(nativeJpegDecoder()).toBeNull();
    } finally {
      delete process.env.ICCL_JPEG_DECODER;
    }
  });

  test('crop then resize of a fixed box equals the reference on libvips-decoded pixels (no DCT scaling)', async () => {
    const buf = await pattern(320, 240);
    const h = readJpegHeader(buf)!;
    const { px, W } = await sharpRaw(buf);
    const box = { left: 37, top: 21, width: 250, height: 190 };
    const got = dec.cropResize(buf, h, box, 64, false, 1);
    const ref = resize(cut(px, W, box), box.width, box.height, 64, 64);
    // With the accurate integer IDCT both decoders (TensorFlow's libjpeg-turbo, sharp's mozjpeg) give the
    // same bytes, so what is left is float32 (TensorFlow) against float64 (here) arithmetic in the
    // filter: around 1e-5 of a grey level. A one-pixel shift of the box moves this pattern by ~1 level.
    expect(diff(got, ref).max).toBeLessThan(1e-3);
  });

  test('an enlarged box (ResizeBilinear) equals the same reference; antialias: false is plain 2 x 2 bilinear', async () => {
    const buf = await pattern(160, 120);
    const h = readJpegHeader(buf)!;
    const { px, W } = await sharpRaw(buf);
    const small = { left: 11, top: 7, width: 50, height: 41 };
    expect(
      diff(
        dec.cropResize(buf, h, small, 64, false),
        resize(cut(px, W, small), small.width, small.height, 64, 64),
      ).max,
    ).toBeLessThan(1e-3);
    // plain bilinear with half-pixel centres, clamped at the box edge: the reference for antialias: false
    const box = { left: 5, top: 3, width: 150, height: 110 };
    const src = cut(px, W, box);
    const ref = new Float64Array(40 * 40 * 3);
    const tap = (i: number, n: number, len: number) => {
      const f = Math.min(len - 1, Math.max(0, ((i + 0.5) * len) / n - 0.5));
      const a = Math.floor(f);
      return [a, Math.min(len - 1, a + 1), f - a];
    };
    for (let y = 0; y < 40; y++) {
      const [y0, y1, fy] = tap(y, 40, box.height);
      for (let x = 0; x < 40; x++) {
        const [x0, x1, fx] = tap(x, 40, box.width);
        for (let c = 0; c < 3; c++) {
          const v = (yy: number, xx: number) => src[(yy * box.width + xx) * 3 + c];
          const top = v(y0, x0) * (1 - fx) + v(y0, x1) * fx;
          const bottom = v(y1, x0) * (1 - fx) + v(y1, x1) * fx;
          ref[(y * 40 + x) * 3 + c] = top * (1 - fy) + bottom * fy;
        }
      }
    }
    expect(diff(dec.cropResize(buf, h, box, 40, false, 1, false), ref).max).toBeLessThan(1e-3);
    // and it is a different filter from the antialiased one on a 3.75x shrink (the texture aliases)
    expect(diff(dec.cropResize(buf, h, box, 40, false, 1, true), ref).max).toBeGreaterThan(1);
  });

  test('resize-then-cut (eval, with the pixels around the box) equals the reference', async () => {
    const buf = await pattern(300, 200);
    const h = readJpegHeader(buf)!;
    const { px, W, H } = await sharpRaw(buf);
    const size = 48;
    const [w, hh] = resizeShorter(W, H, 110); // 165 x 110: the 87-pixel box is under 2 x 48, no DCT scaling
    const left = Math.floor((w - size) / 2);
    const top = Math.floor((hh - size) / 2);
    const ref = cut(resize(px, W, H, w, hh), w, { left, top, width: size, height: size });
    const box = { left: (left * W) / w, top: (top * H) / hh, width: (size * W) / w, height: (size * H) / hh };
    expect(diff(dec.cropResize(buf, h, box, size, true), ref).max).toBeLessThan(1e-3);
    // without the surroundings the edge pixels differ (the kernel is cut at the box): the context matters
    expect(diff(dec.cropResize(buf, h, box, size, false), ref).max).toBeGreaterThan(0.05);
    // and the whole path through decodeFile (identity normalisation: values / 255)
    const t = transformOptions('imagenet', { size, evalResize: 110, normalization: identity });
    const x = await decodeFile(writeTmp('eval.jpg', buf), t, () => 0, false);
    expect(
      diff(
        Array.from(x, (v) => v * 255),
        ref,
      ).max,
    ).toBeLessThan(1e-3);
  });

  test('DCT scaling (ratio 2, 4) stays close to the full decode + resize reference', async () => {
    const buf = await pattern(640, 480);
    const h = readJpegHeader(buf)!;
    const { px, W } = await sharpRaw(buf);
    const box = { left: 40, top: 30, width: 560, height: 420 };
    const ref = resize(cut(px, W, box), box.width, box.height, 64, 64);
    expect(dec.cropResize(buf, h, box, 64, false)).toEqual(dec.cropResize(buf, h, box, 64, false, 4)); // 420 >= 4 * 64: the chosen ratio
    // The DCT's own downscale is a different low-pass than the stretched triangle: measured on this pattern
    // the ramps agree to 0.3 level, the texture (amplitude 100, period ~57 px) keeps up to 1 (r = 2) and
    // 2.7 (r = 4) levels more contrast.
    for (const [r, mean, max] of [
      [2, 0.5, 1.5],
      [4, 1, 4],
    ]) {
      const d = diff(dec.cropResize(buf, h, box, 64, false, r), ref);
      expect(d.mean).toBeLessThan(mean);
      expect(d.max).toBeLessThan(max);
    }
  });

  test('EXIF orientations 1-8 give the libvips-rotated image, and the flip is an exact mirror', async () => {
    const base = await pattern(120, 80);
    const t = transformOptions('imagenet', { size: 40, normalization: identity });
    for (let o = 1; o <= 8; o++) {
      const buf = await sharp(base).withMetadata({ orientation: o }).jpeg({ quality: 95 }).toBuffer();
      expect(readJpegHeader(buf)!.orientation).toBe(o);
      const f = writeTmp(`o${o}.jpg`, buf);
      const { px, W, H } = await sharpRaw(buf);
      // draws: 4 for the first (fitting) box try, then the flip draw
      const draws = (flip: number) => {
        const d = [0.6, 0.4, 0.3, 0.7, flip];
        return () => d.shift()!;
      };
      const box = randomResizedCropBox(W, H, t.scale, t.ratio, draws(0));
      const ref = resize(cut(px, W, box), box.width, box.height, 40, 40);
      expect(Math.min(box.width, box.height)).toBeLessThan(2 * 40); // no DCT scaling: exact comparison
      const plain = await decodeFile(f, t, draws(0.9), true);
      // Interior exact. libjpeg-turbo's cropped decode treats the window's last column or row as the image
      // edge when upsampling chroma (4:2:0 here), so the outermost output pixels may move by a few levels
      // where a window edge falls inside the image (here the orientations 5-8, whose window is cut at
      // stored columns 12 and 92).
      const err = Array.from(plain, (v, i) => Math.abs(v * 255 - ref[i]));
      const border = (i: number) => {
        const x = Math.floor(i / 3) % 40;
        const y = Math.floor(i / 120);
        return x === 0 || y === 0 || x === 39 || y === 39;
      };
      expect(Math.max(...err.filter((_, i) => !border(i)))).toBeLessThan(1e-3);
      expect(Math.max(...err.filter((_, i) => border(i)))).toBeLessThan(4);
      const flipped = await decodeFile(f, t, draws(0.1), true);
      const mirrored = new Float32Array(plain.length);
      for (let y = 0; y < 40; y++)
        for (let x = 0; x < 40; x++)
          for (let c = 0; c < 3; c++) mirrored[(y * 40 + x) * 3 + c] = plain[(y * 40 + 39 - x) * 3 + c];
      expect(flipped).toEqual(mirrored);
    }
  });

  test('normalisation is (v/255 - mean)/std of the resized values, to float32 rounding', async () => {
    const buf = await pattern(200, 150);
    const f = writeTmp('norm.jpg', buf);
    const t = transformOptions('imagenet', { size: 32 });
    const raw = await decodeFile(f, { ...t, normalization: identity }, rngFor(3), true);
    const x = await decodeFile(f, t, rngFor(3), true);
    const { mean, std } = t.normalization;
    let worst = 0;
    for (let i = 0; i < x.length; i++)
      worst = Math.max(worst, Math.abs(x[i] - (raw[i] - mean[i % 3]) / std[i % 3]));
    expect(worst).toBeLessThan(2e-6); // a few float32 ulps of values of size ~2
  });

  test('the in-place orientation + flip + affine map equals a plain copy for all 16 cases', () => {
    const s = 6;
    const src = Float32Array.from({ length: s * s * 3 }, (_, i) => (i * 37) % 251);
    const mul = [0.5, 2, -1];
    const add = [1, -3, 7];
    for (let o = 1; o <= 8; o++) {
      for (const flip of [false, true]) {
        const { base, dX, dY } = orientedIndexing(s, o, flip);
        const want = new Float32Array(src.length);
        for (let Y = 0; Y < s; Y++)
          for (let X = 0; X < s; X++)
            for (let c = 0; c < 3; c++)
              want[(Y * s + X) * 3 + c] = src[base + dX * X + dY * Y + c] * mul[c] + add[c];
        expect(orientFlipAffine(Float32Array.from(src), s, o, flip, mul, add)).toEqual(want);
      }
    }
  });

  test('index maps of the orientations are the 8 symmetries of the square, applied after the flip', () => {
    const s = 5;
    const seen = new Set<string>();
    for (let o = 1; o <= 8; o++) {
      const { base, dX, dY } = orientedIndexing(s, o, false);
      const cells = new Set<number>();
      for (let Y = 0; Y < s; Y++) for (let X = 0; X < s; X++) cells.add(base + dX * X + dY * Y);
      expect(cells.size).toBe(s * s);
      expect(Math.min(...cells)).toBe(0);
      seen.add(`${base},${dX},${dY}`);
    }
    expect(seen.size).toBe(8);
    // orientation 6 (rotate 90 clockwise to display): displayed top-left is the stored bottom-left
    expect(orientedIndexing(s, 6, false).base).toBe((s - 1) * s * 3);
    expect(storedBox({ left: 1, top: 2, width: 3, height: 4 }, 10, 20, 6)).toEqual({
      left: 2,
      top: 16,
      width: 4,
      height: 3,
    });
  });
});

function writeTmp(name: string, buf: Buffer): string {
  const f = join(dir, name);
  writeFileSync(f, buf);
  return f;
}

describe('what the native path leaves to sharp', () => {
  const t = transformOptions('imagenet', { size: 32, evalResize: 40 });
  const both = async (f: string, train: boolean) => {
    const native = await decodeFile(f, t, rngFor(7), train);
    process.env.ICCL_JPEG_DECODER = 'sharp';
    try {
      return { native, viaSharp: await decodeFile(f, t, rngFor(7), train) };
    } finally {
      delete process.env.ICCL_JPEG_DECODER;
    }
  };

  test('CMYK JPEG and PNG: decoded by sharp (identical output with the native path on or off)', async () => {
    const px = Buffer.alloc(64 * 48 * 3);
    for (let i = 0; i < 64 * 48; i++) px.set([220, 30 + (i % 64), 30], i * 3);
    const cmyk = writeTmp(
      'cmyk.jpg',
      await sharp(px, { raw: { width: 64, height: 48, channels: 3 } })
        .toColourspace('cmyk')
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
    expect(nativeJpegSupports(readJpegHeader(readFileSync(cmyk))!)).toBe(false);
    const png = writeTmp(
      'img.png',
      await sharp(px, { raw: { width: 64, height: 48, channels: 3 } })
        .png()
        .toBuffer(),
    );
    for (const f of [cmyk, png]) {
      for (const train of [true, false]) {
        const { native, viaSharp } = await both(f, train);
        expect(native).toEqual(viaSharp);
      }
    }
  });

  test('greyscale JPEG: the native path gives 3 equal channels close to the sharp path', async () => {
    const px = Buffer.alloc(64 * 48);
    for (let i = 0; i < px.length; i++) px[i] = (i % 64) * 4;
    const f = writeTmp(
      'grey.jpg',
      await sharp(px, { raw: { width: 64, height: 48, channels: 1 } })
        .toColourspace('b-w')
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
    expect(readJpegHeader(readFileSync(f))!.components).toBe(1);
    const { native, viaSharp } = await both(f, false);
    const g = transformOptions('imagenet', { size: 32, evalResize: 40, normalization: identity });
    const unit = await decodeFile(f, g, rngFor(7), false);
    for (let p = 0; p < 32 * 32; p++) {
      expect(unit[p * 3 + 1]).toBe(unit[p * 3]);
      expect(unit[p * 3 + 2]).toBe(unit[p * 3]);
    }
    // libvips' linear reduce and the antialiased triangle are both bilinear-like low-passes
    expect(diff(native, viaSharp).mean).toBeLessThan(0.05);
  });

  test('a truncated or corrupt JPEG is one ImageDecodeError line naming the file', async () => {
    const good = await pattern(64, 48);
    const sos = good.indexOf(Buffer.from([0xff, 0xda]));
    const files = [
      writeTmp('trunc-half.jpg', good.subarray(0, Math.floor(good.length / 2))),
      writeTmp('trunc-scan.jpg', good.subarray(0, sos + 20)), // frame header readable, no image data
      writeTmp('junk.jpg', Buffer.concat([good.subarray(0, 2), Buffer.from('not a jpeg after all')])),
    ];
    expect(nativeJpegSupports(readJpegHeader(readFileSync(files[1]))!)).toBe(true); // reaches TensorFlow first
    for (const f of files) {
      for (const train of [true, false]) {
        const e = await decodeFile(f, t, rngFor(1), train).then(
          () => null,
          (err: Error) => err,
        );
        expect(e).toMatchObject({ name: 'ImageDecodeError', file: f });
        expect(e!.message.startsWith(`${f}: cannot decode image: `)).toBe(true);
        expect(e!.message).not.toContain('\n');
      }
    }
  });
});

describe('decode workers', () => {
  test("load TensorFlow in their thread and give the main thread's native output bit for bit", async () => {
    const { DecodePool, workerTfDevice } = await import('../src/data/worker-pool');
    const paths = [writeTmp('w0.jpg', await pattern(200, 150)), writeTmp('w1.jpg', await pattern(150, 200))];
    const transform = transformOptions('imagenet', { size: 32, evalResize: 40 });
    const recipe = { kind: 'files' as const, paths, transform };
    expect(workerTfDevice(recipe)).toBe('cpu');
    expect(workerTfDevice({ ...recipe, transform: transformOptions('cifar', { size: 32 }) })).toBeUndefined();
    const pool = new DecodePool(recipe, 1);
    try {
      const itemSize = 32 * 32 * 3;
      const r = await pool.run({
        indices: Int32Array.of(0, 1),
        pos0: 0,
        seed: 5,
        epoch: 2,
        train: true,
        itemSize,
      });
      expect(r.errors).toEqual(['', '']);
      for (let k = 0; k < 2; k++) {
        const main = await decodeFile(paths[k], transform, rngFor(5, 2, k), true);
        expect(r.x.subarray(k * itemSize, (k + 1) * itemSize)).toEqual(main);
      }
    } finally {
      await pool.close();
    }
  }, 60_000);
});
