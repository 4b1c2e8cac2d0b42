import { loadedTf } from '@iccl/tf-backend';
import type { JpegHeader } from './jpeg-header';

// Module-local binding: the global `Math` is slow to look up inside jest's VM context (per-pixel loops).
const Math = globalThis.Math;

/**
 * JPEG decode + crop + resize with libtensorflow's own ops (libjpeg-turbo inside TensorFlow), called
 * through tfjs-node's binding directly: no tfjs tensors, no engine bookkeeping, two ops and one copy
 * out per image. DecodeAndCropJpeg decodes only the crop window, at 1/2, 1/4 or 1/8 scale in the DCT
 * when the box allows; ScaleAndTranslate with the triangle kernel and antialiasing is the same filter as
 * Pillow's antialiased bilinear resize (what torchvision's RandomResizedCrop / Resize run on PIL images).
 */

/** The parts of tfjs-node's native binding used here. */
interface Binding {
  createTensor(shape: number[], dtype: number, values: unknown): number;
  deleteTensor(id: number): void;
  tensorDataSync(id: number): Float32Array | Int32Array | Uint8Array;
  executeOp(
    name: string,
    attrs: Attr[],
    inputs: number[],
    numOutputs: number,
  ): { id: number; shape: number[]; dtype: number }[];
  TF_FLOAT: number;
  TF_INT32: number;
  TF_STRING: number;
  TF_UINT8: number;
  TF_ATTR_STRING: number;
  TF_ATTR_INT: number;
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_TYPE: number;
}
interface Attr {
  name: string;
  type: number;
  value: unknown;
}

/** A box on the displayed (EXIF-oriented) image, in pixels; may be fractional. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** JPEG DCT scale (1, 2, 4 or 8): the largest that still leaves the box at least `size` on its shorter side. */
export function dctRatio(boxWidth: number, boxHeight: number, size: number): number {
  const m = Math.min(boxWidth, boxHeight);
  return m >= 8 * size ? 8 : m >= 4 * size ? 4 : m >= 2 * size ? 2 : 1;
}

/** The displayed box [X0, X0+bw) x [Y0, Y0+bh) as a box of the stored image (w x h) under EXIF `orientation`. */
export function storedBox(b: CropBox, w: number, h: number, orientation: number): CropBox {
  const X0 = b.left;
  const X1 = b.left + b.width;
  const Y0 = b.top;
  const Y1 = b.top + b.height;
  // [x0, x1) and [y0, y1) on the stored image; orientations 5-8 swap the axes
  const [x0, x1, y0, y1] =
    orientation === 2
      ? [w - X1, w - X0, Y0, Y1]
      : orientation === 3
        ? [w - X1, w - X0, h - Y1, h - Y0]
        : orientation === 4
          ? [X0, X1, h - Y1, h - Y0]
          : orientation === 5
            ? [Y0, Y1, X0, X1]
            : orientation === 6
              ? [Y0, Y1, h - X1, h - X0]
              : orientation === 7
                ? [w - Y1, w - Y0, h - X1, h - X0]
                : orientation === 8
                  ? [w - Y1, w - Y0, X0, X1]
                  : [X0, X1, Y0, Y1];
  return { left: x0, top: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * Where displayed output pixel (X, Y) of an s x s crop (after the optional horizontal flip) lies in the
 * stored-orientation s x s result, as an element offset: base + dX * X + dY * Y (every mapping is affine).
 */
export function orientedIndexing(
  s: number,
  orientation: number,
  flip: boolean,
): { base: number; dX: number; dY: number } {
  const at = (X: number, Y: number): number => {
    const Xd = flip ? s - 1 - X : X;
    const [x, y] =
      orientation === 2
        ? [s - 1 - Xd, Y]
        : orientation === 3
          ? [s - 1 - Xd, s - 1 - Y]
          : orientation === 4
            ? [Xd, s - 1 - Y]
            : orientation === 5
              ? [Y, Xd]
              : orientation === 6
                ? [Y, s - 1 - Xd]
                : orientation === 7
                  ? [s - 1 - Y, s - 1 - Xd]
                  : orientation === 8
                    ? [s - 1 - Y, Xd]
                    : [Xd, Y];
    return (y * s + x) * 3;
  };
  const base = at(0, 0);
  return { base, dX: at(1, 0) - base, dY: at(0, 1) - base };
}

/**
 * The s x s RGB floats `src` (stored orientation, values 0..255) in displayed orientation with the flip,
 * each value v of channel c mapped to v * mul[c] + add[c] (normalisation, or /255 when add is 0). When
 * the pixel mapping is its own inverse (no orientation change or a mirror, a 180 degree turn, a transpose,
 * with or without the flip) it works in place, swapping pixel pairs: no second 600 kB buffer per image.
 */
export function orientFlipAffine(
  src: Float32Array,
  s: number,
  orientation: number,
  flip: boolean,
  mul: ArrayLike<number>,
  add: ArrayLike<number>,
  /** write here (s*s*3 floats, e.g. the image's rows of a batch) instead of in place or a new buffer */
  target?: Float32Array,
): Float32Array {
  const { base, dX, dY } = orientedIndexing(s, orientation, flip);
  const m0 = +mul[0];
  const m1 = +mul[1];
  const m2 = +mul[2];
  const a0 = +add[0];
  const a1 = +add[1];
  const a2 = +add[2];
  // offset o = (Y s + X) 3 maps to p = base + dX X + dY Y; applying the map twice is the identity when
  // it sends the corners (0,0), (1,0), (0,1) back to themselves
  const back = (p: number) => {
    const q = p / 3;
    const X = q % s;
    const Y = (q - X) / s;
    return base + dX * X + dY * Y;
  };
  const involution = back(base) === 0 && back(base + dX) === 3 && back(base + dY) === 3 * s;
  if (!involution || target) {
    const out = target ?? new Float32Array(s * s * 3);
    let o = 0;
    for (let Y = 0; Y < s; Y++) {
      let p = base + dY * Y;
      for (let X = 0; X < s; X++, p += dX, o += 3) {
        out[o] = src[p] * m0 + a0;
        out[o + 1] = src[p + 1] * m1 + a1;
        out[o + 2] = src[p + 2] * m2 + a2;
      }
    }
    return out;
  }
  let o = 0;
  for (let Y = 0; Y < s; Y++) {
    let p = base + dY * Y;
    for (let X = 0; X < s; X++, p += dX, o += 3) {
      if (p < o) continue; // this pair was swapped when o was p
      const r = src[p];
      const g = src[p + 1];
      const b = src[p + 2];
      if (p !== o) {
        src[p] = src[o] * m0 + a0;
        src[p + 1] = src[o + 1] * m1 + a1;
        src[p + 2] = src[o + 2] * m2 + a2;
      }
      src[o] = r * m0 + a0;
      src[o + 1] = g * m1 + a1;
      src[o + 2] = b * m2 + a2;
    }
  }
  return src;
}

/** JPEGs this path decodes: 8-bit grey or 3-component (CMYK/YCCK goes to libvips, which colour-manages them). */
export function nativeJpegSupports(h: JpegHeader): boolean {
  return h.precision === 8 && (h.components === 1 || h.components === 3);
}

export class TfJpegDecoder {
  private readonly decodeAttrs = new Map<number, Attr[]>();
  private readonly expandAttrs: Attr[];
  private readonly resizeAttrs: Attr[];
  private readonly bilinearAttrs: Attr[];
  /** constant tensors, made once: the ExpandDims axis and the output sizes seen */
  private readonly axis0: number;
  private readonly sizes = new Map<number, number>();

  constructor(private readonly b: Binding) {
    this.expandAttrs = [
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_UINT8 },
      { name: 'Tdim', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
    ];
    this.resizeAttrs = [
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_UINT8 },
      { name: 'kernel_type', type: b.TF_ATTR_STRING, value: 'triangle' },
      { name: 'antialias', type: b.TF_ATTR_BOOL, value: true },
    ];
    this.bilinearAttrs = [
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_UINT8 },
      { name: 'align_corners', type: b.TF_ATTR_BOOL, value: false },
      { name: 'half_pixel_centers', type: b.TF_ATTR_BOOL, value: true },
    ];
    this.axis0 = b.createTensor([], b.TF_INT32, Int32Array.of(0));
  }

  private attrsFor(ratio: number): Attr[] {
    let a = this.decodeAttrs.get(ratio);
    if (!a) {
      const b = this.b;
      a = [
        { name: 'channels', type: b.TF_ATTR_INT, value: 3 },
        { name: 'ratio', type: b.TF_ATTR_INT, value: ratio },
        { name: 'fancy_upscaling', type: b.TF_ATTR_BOOL, value: true },
        { name: 'try_recover_truncated', type: b.TF_ATTR_BOOL, value: false },
        { name: 'acceptable_fraction', type: b.TF_ATTR_FLOAT, value: 1 },
        // TensorFlow's default is the fast integer IDCT (off by 1-4 levels); the accurate one is libjpeg's
        // default, what Pillow and libvips decode with: bit-identical pixels to sharp's full decode
        { name: 'dct_method', type: b.TF_ATTR_STRING, value: 'INTEGER_ACCURATE' },
      ];
      this.decodeAttrs.set(ratio, a);
    }
    return a;
  }

  private sizeTensor(size: number): number {
    let id = this.sizes.get(size);
    if (id === undefined) {
      id = this.b.createTensor([2], this.b.TF_INT32, Int32Array.of(size, size));
      this.sizes.set(size, id);
    }
    return id;
  }

  /**
   * `box` (displayed coordinates) of the JPEG in `buf` resized to size x size, RGB floats 0..255 in the
   * STORED orientation (the caller's copy loop applies the EXIF orientation and the flip). With
   * `context`, the filter reads pixels around the box as a resize of the whole image followed by a cut
   * does (the eval path); without, the box is cut first (random-resized-crop). `antialias: false` resizes
   * with plain bilinear interpolation (2 x 2 taps, no widening of the filter when shrinking; not with
   * `context`). `ratio` forces the DCT scale (tests); by default the largest that keeps the box at least
   * `size` on its shorter side.
   */
  cropResize(
    buf: Uint8Array,
    h: JpegHeader,
    box: CropBox,
    size: number,
    context: boolean,
    ratio?: number,
    antialias = true,
  ): Float32Array {
    const b = this.b;
    const sb = storedBox(box, h.width, h.height, h.orientation);
    const r = ratio ?? dctRatio(sb.width, sb.height, size);
    // libjpeg's scaled size; scaled pixel i covers stored pixels [i*r, (i+1)*r)
    const sw = Math.ceil(h.width / r);
    const sh = Math.ceil(h.height / r);
    const bx = sb.left / r;
    const by = sb.top / r;
    const bw = sb.width / r;
    const bh = sb.height / r;
    // Plain bilinear resizes the whole window, so the window must be the box (to half a scaled pixel when
    // the box is not on the DCT grid). When enlarging on both axes the antialiased triangle IS bilinear
    // (its width only grows when shrinking) and ResizeBilinear is 2.5x cheaper than ScaleAndTranslate.
    const bilinear = !context && (!antialias || (bw <= size && bh <= size));
    // the triangle kernel stretched by the downscale reaches bw/size scaled pixels either side
    const mx = context ? Math.ceil(bw / size) + 1 : 0;
    const my = context ? Math.ceil(bh / size) + 1 : 0;
    // a tiny slack keeps float noise on integer edges from widening the window by a pixel
    const lo = (v: number) => (bilinear ? Math.round(v) : Math.floor(v + 1e-6));
    const hi = (v: number) => (bilinear ? Math.round(v) : Math.ceil(v - 1e-6));
    const x0 = Math.min(sw - 1, Math.max(0, lo(bx - mx)));
    const y0 = Math.min(sh - 1, Math.max(0, lo(by - my)));
    const x1 = Math.min(sw, Math.max(x0 + 1, hi(bx + bw + mx)));
    const y1 = Math.min(sh, Math.max(y0 + 1, hi(by + bh + my)));
    const ids: number[] = [];
    try {
      const contents = b.createTensor([], b.TF_STRING, [buf]);
      ids.push(contents);
      const win = b.createTensor([4], b.TF_INT32, Int32Array.of(y0, x0, y1 - y0, x1 - x0));
      ids.push(win);
      const img = b.executeOp('DecodeAndCropJpeg', this.attrsFor(r), [contents, win], 1)[0].id;
      ids.push(img);
      const batch = b.executeOp('ExpandDims', this.expandAttrs, [img, this.axis0], 1)[0].id;
      ids.push(batch);
      let out: number;
      if (bilinear) {
        out = b.executeOp('ResizeBilinear', this.bilinearAttrs, [batch, this.sizeTensor(size)], 1)[0].id;
      } else {
        const sy = size / bh;
        const sx = size / bw;
        const scale = b.createTensor([2], b.TF_FLOAT, Float32Array.of(sy, sx));
        ids.push(scale);
        // output pixel centre x + 0.5 samples the window at (x + 0.5 - t) / s: t = -(box start in the window) * s
        const shift = b.createTensor([2], b.TF_FLOAT, Float32Array.of(-(by - y0) * sy, -(bx - x0) * sx));
        ids.push(shift);
        out = b.executeOp(
          'ScaleAndTranslate',
          this.resizeAttrs,
          [batch, this.sizeTensor(size), scale, shift],
          1,
        )[0].id;
      }
      ids.push(out);
      return b.tensorDataSync(out) as Float32Array;
    } finally {
      for (const id of ids) b.deleteTensor(id);
    }
  }
}

const decoders = new WeakMap<object, TfJpegDecoder>();

/** ICCL_JPEG_DECODER=sharp: every JPEG goes through sharp, in every thread. */
export function nativeJpegSwitchedOff(): boolean {
  return process.env.ICCL_JPEG_DECODER === 'sharp';
}

/**
 * The native decoder when native TensorFlow (tfjs-node or tfjs-node-gpu) is loaded in this thread, else
 * null (PNG and others, the pure-JS backend, or nothing loaded: the caller decodes with sharp). It never
 * loads TensorFlow itself. ICCL_JPEG_DECODER=sharp switches it off.
 */
export function nativeJpegDecoder(): TfJpegDecoder | null {
  if (nativeJpegSwitchedOff()) return null;
  const l = loadedTf();
  if (!l || l.info.backend !== 'tensorflow') return null;
  const backend = l.tf.backend() as unknown as { binding?: Binding };
  const binding = backend.binding;
  if (!binding || typeof binding.executeOp !== 'function') return null;
  let d = decoders.get(binding);
  if (!d) {
    d = new TfJpegDecoder(binding);
    decoders.set(binding, d);
  }
  return d;
}
