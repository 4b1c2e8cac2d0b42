import sharp, { type Sharp } from 'sharp';
import { readFile as readFileCb } from 'node:fs';
import { ImageDecodeError } from './errors';
import { orientedSize, readJpegHeader, type JpegHeader } from './jpeg-header';
import { resampleRgb } from './resample';
import { nativeJpegDecoder, nativeJpegSupports, orientFlipAffine } from './tf-jpeg';
import type { ResizePlan } from './tf-resize';
import type { Normalization, TransformOptions } from './types';
import { NORMALIZATION } from './normalization';

// A module-local binding: looking up the global `Math` is very slow inside jest's VM context, and these
// functions run per pixel / per draw.
const Math = globalThis.Math;

/** Defaults of the two styles; callers override single fields. */
export function transformOptions(style: 'cifar' | 'imagenet', over: Partial<TransformOptions> = {}): TransformOptions {
  const base: TransformOptions =
    style === 'cifar'
      ? { style, size: 32, evalResize: 32, pad: 4, scale: [0.08, 1], ratio: [3 / 4, 4 / 3], flip: true, colorJitter: 0, normalization: NORMALIZATION.cifar10 }
      : { style, size: 224, evalResize: 256, pad: 0, scale: [0.08, 1], ratio: [3 / 4, 4 / 3], flip: true, colorJitter: 0, normalization: NORMALIZATION.imagenet };
  return { ...base, ...over, style: over.style ?? style };
}

/** A crop box on the (oriented) source image. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Random-resized-crop box (the Inception / torchvision recipe): up to 10 tries of an area fraction in `scale`
 * and a log-uniform aspect ratio in `ratio`; if none fits, the largest centred box whose aspect is clamped
 * into `ratio`.
 */
export function randomResizedCropBox(W: number, H: number, scale: [number, number], ratio: [number, number], rng: () => number): Box {
  const area = W * H;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const target = area * (scale[0] + rng() * (scale[1] - scale[0]));
    const aspect = Math.exp(logLo + rng() * (logHi - logLo));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= W && h <= H) {
      const top = Math.floor(rng() * (H - h + 1));
      const left = Math.floor(rng() * (W - w + 1));
      return { left, top, width: w, height: h };
    }
  }
  const inRatio = W / H;
  let w: number;
  let h: number;
  if (inRatio < ratio[0]) {
    w = W;
    h = Math.round(w / ratio[0]);
  } else if (inRatio > ratio[1]) {
    h = H;
    w = Math.round(h * ratio[1]);
  } else {
    w = W;
    h = H;
  }
  w = Math.max(1, Math.min(W, w));
  h = Math.max(1, Math.min(H, h));
  return { left: Math.floor((W - w) / 2), top: Math.floor((H - h) / 2), width: w, height: h };
}

/** Size after resizing so the shorter side is `side` (aspect kept). */
export function resizeShorter(W: number, H: number, side: number): [number, number] {
  return W <= H ? [side, Math.max(side, Math.round((H * side) / W))] : [Math.max(side, Math.round((W * side) / H)), side];
}

/**
 * CIFAR training augmentation on uint8 HWC RGB: zero-pad by `pad`, random size x size crop, horizontal flip
 * with probability 0.5. Writes uint8 into `out` (size*size*3).
 */
export function padCropFlip(src: Uint8Array, H: number, W: number, size: number, pad: number, flip: boolean, rng: () => number, out: Uint8Array): void {
  // Offsets into the padded image; (dy, dx) = (0, 0) is the top-left corner of the padding.
  const dy = Math.floor(rng() * (H + 2 * pad - size + 1)) - pad;
  const dx = Math.floor(rng() * (W + 2 * pad - size + 1)) - pad;
  const mirror = flip && rng() < 0.5;
  for (let y = 0; y < size; y++) {
    const sy = y + dy;
    for (let x = 0; x < size; x++) {
      const sx = (mirror ? size - 1 - x : x) + dx;
      const o = (y * size + x) * 3;
      if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
        out[o] = out[o + 1] = out[o + 2] = 0;
      } else {
        const s = (sy * W + sx) * 3;
        out[o] = src[s];
        out[o + 1] = src[s + 1];
        out[o + 2] = src[s + 2];
      }
    }
  }
}

/**
 * Colour jitter on [0, 1] RGB in place: brightness, then contrast (around the image's mean grey), then
 * saturation (around each pixel's grey), each factor uniform in [1 - j, 1 + j]; clamped to [0, 1].
 * The fixed order is our choice (torchvision shuffles it).
 */
export function colorJitterInPlace(x: Float32Array, j: number, rng: () => number): void {
  if (j <= 0) return;
  const b = 1 - j + 2 * j * rng();
  const c = 1 - j + 2 * j * rng();
  const s = 1 - j + 2 * j * rng();
  let mean = 0;
  for (let i = 0; i < x.length; i += 3) {
    x[i] *= b;
    x[i + 1] *= b;
    x[i + 2] *= b;
    mean += 0.299 * x[i] + 0.587 * x[i + 1] + 0.114 * x[i + 2];
  }
  mean /= x.length / 3;
  for (let i = 0; i < x.length; i += 3) {
    let r = (x[i] - mean) * c + mean;
    let g = (x[i + 1] - mean) * c + mean;
    let bl = (x[i + 2] - mean) * c + mean;
    const grey = 0.299 * r + 0.587 * g + 0.114 * bl;
    r = (r - grey) * s + grey;
    g = (g - grey) * s + grey;
    bl = (bl - grey) * s + grey;
    x[i] = r < 0 ? 0 : r > 1 ? 1 : r;
    x[i + 1] = g < 0 ? 0 : g > 1 ? 1 : g;
    x[i + 2] = bl < 0 ? 0 : bl > 1 ? 1 : bl;
  }
}

/** uint8 RGB -> float32 in [0, 1]. */
export function toUnit(src: Uint8Array | Buffer): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] / 255;
  return out;
}

/** (x - mean) / std per channel, in place, on [0, 1] RGB. */
export function normalizeInPlace(x: Float32Array, n: Normalization): void {
  const [m0, m1, m2] = n.mean;
  const [i0, i1, i2] = n.std.map((s) => 1 / s);
  for (let i = 0; i < x.length; i += 3) {
    x[i] = (x[i] - m0) * i0;
    x[i + 1] = (x[i + 1] - m1) * i1;
    x[i + 2] = (x[i + 2] - m2) * i2;
  }
}

/**
 * One 256-entry table per channel mapping a byte straight to (v/255 - mean)/std: the no-jitter path is then
 * one table lookup per value (this conversion, not decoding, dominated the per-image cost before).
 */
const lutCache = new WeakMap<Normalization, Float32Array[]>();
function normalizationLut(n: Normalization): Float32Array[] {
  let l = lutCache.get(n);
  if (!l) {
    l = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - n.mean[c]) / n.std[c]));
    lutCache.set(n, l);
  }
  return l;
}

/** The float output of uint8 HWC pixels after jitter (train only) and normalisation. */
export function finish(pixels: Uint8Array | Buffer, t: TransformOptions, rng: () => number, train: boolean): Float32Array {
  if (train && t.colorJitter > 0) {
    const x = toUnit(pixels);
    colorJitterInPlace(x, t.colorJitter, rng);
    normalizeInPlace(x, t.normalization);
    return x;
  }
  const [l0, l1, l2] = normalizationLut(t.normalization);
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i += 3) {
    out[i] = l0[pixels[i]];
    out[i + 1] = l1[pixels[i + 1]];
    out[i + 2] = l2[pixels[i + 2]];
  }
  return out;
}

/** Transform of an in-memory uint8 HWC image (CIFAR binary, synthetic). */
export function transformPixels(src: Uint8Array, H: number, W: number, t: TransformOptions, rng: () => number, train: boolean): Float32Array {
  const size = t.size;
  const tmp = new Uint8Array(size * size * 3);
  if (H !== size || W !== size) throw new Error(`in-memory images are ${H}x${W} but the transform wants ${size}x${size}: expected equal sizes`);
  if (train) padCropFlip(src, H, W, size, t.pad, t.flip, rng, tmp);
  else tmp.set(src);
  return finish(tmp, t, rng, train);
}

/** Makes sure a raw sharp result is 3-channel RGB (grey is replicated; extra channels dropped). */
function toRgb(data: Buffer, channels: number): Uint8Array {
  if (channels === 3) return data;
  const n = data.length / channels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const g = data[i * channels];
    if (channels < 3) {
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = g;
    } else {
      out[i * 3] = data[i * channels];
      out[i * 3 + 1] = data[i * channels + 1];
      out[i * 3 + 2] = data[i * channels + 2];
    }
  }
  return out;
}

/**
 * `box` of the W x H image resized to size x size. When the box is at least twice the output in
 * both directions and the file is an unrotated JPEG, the whole image is resized to the box's scale
 * and the box cut out after: libvips then decodes the JPEG at 1/2, 1/4 or 1/8 scale in the DCT
 * (shrink-on-load, which it skips for a cut made before resizing) and computes only the rows and
 * columns the cut needs. Otherwise cut first, then resize. The two differ by under half an output
 * pixel of position; both are a random-resized crop of the same box.
 */
export function cropResize(img: Sharp, W: number, H: number, box: Box, size: number, shrinkable: boolean): Sharp {
  const sx = box.width / size;
  const sy = box.height / size;
  if (!shrinkable || Math.min(sx, sy) < 2) {
    return img.extract(box).resize(size, size, { fit: 'fill', kernel: 'linear' });
  }
  const w = Math.max(size, Math.round(W / sx));
  const h = Math.max(size, Math.round(H / sy));
  const left = Math.min(w - size, Math.round(box.left / sx));
  const top = Math.min(h - size, Math.round(box.top / sy));
  return img.resize(w, h, { fit: 'fill', kernel: 'linear' }).extract({ left, top, width: size, height: size });
}

/**
 * The imagenet-style geometry of one image, drawn before decoding so that either decoder gives the same
 * augmentation for the same rng: train = random-resized-crop box, then the flip draw; eval = the centre
 * 224 of the image resized to shorter side `evalResize`, as a box on the source (so resize-then-cut can be
 * one filter pass over the box with its surroundings).
 */
export interface Geometry {
  box: Box;
  flip: boolean;
  /** eval: the filter reads around the box (resize of the whole image, then cut) */
  context: boolean;
  /** eval: the resized size the box is cut from */
  resized?: [number, number];
}

export function imagenetGeometry(W: number, H: number, t: TransformOptions, rng: () => number, train: boolean): Geometry {
  const size = t.size;
  if (train) {
    const box = randomResizedCropBox(W, H, t.scale, t.ratio, rng);
    return { box, flip: t.flip && rng() < 0.5, context: false };
  }
  const [w, h] = resizeShorter(W, H, t.evalResize);
  const left = Math.floor((w - size) / 2);
  const top = Math.floor((h - size) / 2);
  return { box: { left, top, width: size, height: size }, flip: false, context: true, resized: [w, h] };
}

/** The geometry's box on the W x H source (eval: the centre cut of the resized image; may be fractional). */
export function sourceBox(g: Geometry, W: number, H: number, size: number): Box {
  if (!g.resized) return g.box;
  const [w, h] = g.resized;
  return { left: (g.box.left * W) / w, top: (g.box.top * H) / h, width: (size * W) / w, height: (size * H) / h };
}

/**
 * The native TensorFlow path (tf-jpeg.ts): one decode of the crop window in libtensorflow, then the
 * resize, orientation, flip and normalisation (resample.ts, or libtensorflow's resize and one copy loop
 * for an EXIF-rotated file). Null when it does not apply (not loaded in
 * this thread, not an imagenet-style transform, a JPEG it does not take) or when TensorFlow refuses the
 * file (the sharp path then decides, and reports a broken file with its own message).
 */
function decodeNative(buf: Buffer, jpeg: JpegHeader, W: number, H: number, g: Geometry, t: TransformOptions, rng: () => number, train: boolean, out?: Float32Array): Float32Array | null {
  const dec = nativeJpegDecoder();
  if (!dec || !nativeJpegSupports(jpeg)) return null;
  const box = sourceBox(g, W, H, t.size);
  const antialias = t.antialias ?? true;
  let win: ReturnType<typeof dec.decodeWindow> | undefined;
  let raw: Float32Array | undefined;
  try {
    // unrotated (every store record, most photos): the decoded window resized, flipped and normalised in
    // one JavaScript pass (resample.ts); a rotated one through libtensorflow's resize and the copy loop
    if (jpeg.orientation === 1) win = dec.decodeWindow(buf, jpeg, box, t.size, g.context, undefined, antialias);
    else raw = dec.cropResize(buf, jpeg, box, t.size, g.context, undefined, antialias);
  } catch {
    return null;
  }
  return win ? finishWindow(win.px, win.w, win.plan, g.flip, t, rng, train, out) : finishNative(raw!, jpeg.orientation, g.flip, t, rng, train, out);
}

/**
 * uint8 RGB pixels (W wide, displayed orientation) through the resize `plan`, the flip, then jitter
 * (train) and normalisation, into `out` when given: the raw store's path and the native JPEG path's.
 */
export function finishWindow(px: Uint8Array, W: number, plan: ResizePlan, flip: boolean, t: TransformOptions, rng: () => number, train: boolean, out?: Float32Array): Float32Array {
  const x = out ?? new Float32Array(t.size * t.size * 3);
  const antialias = t.antialias ?? true;
  const n = t.normalization;
  if (train && t.colorJitter > 0) {
    resampleRgb(px, W, plan, t.size, antialias, flip, [1 / 255, 1 / 255, 1 / 255], [0, 0, 0], x);
    colorJitterInPlace(x, t.colorJitter, rng);
    normalizeInPlace(x, n);
    return x;
  }
  // (v/255 - mean)/std = v * 1/(255 std) - mean/std
  const mul = n.std.map((s) => 1 / (255 * s));
  const add = n.mean.map((m, c) => -m / n.std[c]);
  return resampleRgb(px, W, plan, t.size, antialias, flip, mul, add, x);
}

/**
 * The output of a native resize (size x size RGB floats 0..255, stored orientation): EXIF orientation,
 * flip, then jitter (train) and normalisation, in one copy loop into `out` when given.
 */
export function finishNative(raw: Float32Array, orientation: number, flip: boolean, t: TransformOptions, rng: () => number, train: boolean, out?: Float32Array): Float32Array {
  const n = t.normalization;
  if (train && t.colorJitter > 0) {
    const x = orientFlipAffine(raw, t.size, orientation, flip, [1 / 255, 1 / 255, 1 / 255], [0, 0, 0], out);
    colorJitterInPlace(x, t.colorJitter, rng);
    normalizeInPlace(x, n);
    return x;
  }
  // (v/255 - mean)/std = v * 1/(255 std) - mean/std
  const mul = n.std.map((s) => 1 / (255 * s));
  const add = n.mean.map((m, c) => -m / n.std[c]);
  return orientFlipAffine(raw, t.size, orientation, flip, mul, add, out);
}

/** fs.readFile with a callback: a third less CPU per small file than fs/promises' readFile on Node 20. */
function readFile(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileCb(path, (e, b) => (e ? reject(e) : resolve(b))));
}

/**
 * Decodes one image file (JPEG, PNG, ...; grey, CMYK and EXIF-rotated included) to RGB and applies the
 * transform (bilinear resampling, torchvision's default): 'imagenet' = random-resized-crop + flip (train) or
 * resize shorter side to evalResize + centre crop (eval); 'cifar' = resize to size x size, then pad +
 * random crop + flip (train). Output NHWC float32. Imagenet-style JPEGs go through libtensorflow's JPEG
 * ops when native TensorFlow is loaded in this thread (tf-jpeg.ts), everything else through sharp.
 * Throws ImageDecodeError for missing, truncated or non-image files.
 */
export async function decodeFile(path: string, t: TransformOptions, rng: () => number, train: boolean, out?: Float32Array): Promise<Float32Array> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new ImageDecodeError(path, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  return decodeBuffer(buf, path, t, rng, train, out);
}

/**
 * decodeFile of an encoded image already in memory (a prepared store's record); `name` goes into errors.
 * `out` (size*size*3 floats): the native path writes there and returns it (saves a 600 kB copy per image
 * in a decode worker); other paths may return their own buffer, which the caller then copies.
 */
export async function decodeBuffer(buf: Buffer, name: string, t: TransformOptions, rng: () => number, train: boolean, out?: Float32Array): Promise<Float32Array> {
  const path = name;
  try {
    const jpeg = readJpegHeader(buf);
    let W: number | undefined;
    let H: number | undefined;
    if (jpeg) {
      ({ width: W, height: H } = orientedSize(jpeg));
    } else {
      const meta = await sharp(buf).metadata();
      W = meta.autoOrient?.width ?? meta.width;
      H = meta.autoOrient?.height ?? meta.height;
    }
    if (!W || !H) throw new Error('no image dimensions');
    const size = t.size;
    const g = t.style === 'imagenet' ? imagenetGeometry(W, H, t, rng, train) : null;
    if (g && jpeg) {
      const x = decodeNative(buf, jpeg, W, H, g, t, rng, train, out);
      if (x) return x;
    }
    // autoOrient applies the EXIF rotation before any extract/resize/flop, whatever the call order.
    // sequentialRead: top-to-bottom decoding, measurably faster for JPEG (libvips buffers what a rotation needs)
    let img = sharp(buf, { failOn: 'warning', autoOrient: true, sequentialRead: true });
    if (g && train) {
      img = cropResize(img, W, H, g.box, size, jpeg?.orientation === 1);
      if (g.flip) img = img.flop();
    } else if (g) {
      const [w, h] = g.resized!;
      img = img.resize(w, h, { fit: 'fill', kernel: 'linear' }).extract(g.box);
    } else if (W !== size || H !== size) {
      img = img.resize(size, size, { fit: 'fill', kernel: 'linear' });
    }
    const { data, info } = await img.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let px = toRgb(data, info.channels);
    if (t.style === 'cifar' && train) {
      const out = new Uint8Array(size * size * 3);
      padCropFlip(px, size, size, size, t.pad, t.flip, rng, out);
      px = out;
    }
    return finish(px, t, rng, train);
  } catch (e) {
    throw new ImageDecodeError(path, (e as Error).message.split('\n')[0]);
  }
}
