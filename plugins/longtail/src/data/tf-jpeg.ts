import type { JpegHeader } from './jpeg-header';
import { nativeImageOpsSwitchedOff, nativeResizer, resizePlan, type Attr, type Binding, type CropBox, type ResizePlan, type TfResizer } from './tf-resize';

// Module-local binding: the global `Math` is slow to look up inside jest's VM context (per-pixel loops).
const Math = globalThis.Math;

/**
 * JPEG decode + crop + resize with libtensorflow's own ops (libjpeg-turbo inside TensorFlow), called
 * through tfjs-node's binding directly: no tfjs tensors, no engine bookkeeping, two ops and one copy
 * out per image. DecodeAndCropJpeg decodes only the crop window, at 1/2, 1/4 or 1/8 scale in the DCT
 * when the box allows; ScaleAndTranslate with the triangle kernel and antialiasing is the same filter as
 * Pillow's antialiased bilinear resize (what torchvision's RandomResizedCrop / Resize run on PIL images).
 */

export type { CropBox } from './tf-resize';

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
  private readonly b: Binding;
  /** the ExpandDims axis, made once */
  private readonly axis0: number;

  constructor(private readonly resizer: TfResizer) {
    const b = (this.b = resizer.b);
    this.expandAttrs = [
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_UINT8 },
      { name: 'Tdim', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
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

  /**
   * `box` (displayed coordinates) of the JPEG in `buf` resized to size x size, RGB floats 0..255 in the
   * STORED orientation (the caller's copy loop applies the EXIF orientation and the flip). With
   * `context`, the filter reads pixels around the box as a resize of the whole image followed by a cut
   * does (the eval path); without, the box is cut first (random-resized-crop). `antialias: false` resizes
   * with plain bilinear interpolation (2 x 2 taps, no widening of the filter when shrinking; not with
   * `context`). `ratio` forces the DCT scale (tests); by default the largest that keeps the box at least
   * `size` on its shorter side. The window and the resize are tf-resize.ts's, shared with raw pixels.
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
    const ids: number[] = [];
    try {
      const { img, plan } = this.decode(buf, h, box, size, context, ratio, antialias, ids);
      const batch = b.executeOp('ExpandDims', this.expandAttrs, [img, this.axis0], 1)[0].id;
      ids.push(batch);
      return b.tensorDataSync(this.resizer.resizeWindow(batch, plan, size, ids)) as Float32Array;
    } finally {
      for (const id of ids) b.deleteTensor(id);
    }
  }

  /**
   * Only the decode of cropResize: the window's uint8 RGB pixels (stored orientation, w pixels wide) and
   * the resize plan relative to the window, for resample.ts to finish (saves the float image TensorFlow
   * would hand back, a fresh 600 kB per 224 image, and the second pass over it).
   */
  decodeWindow(buf: Uint8Array, h: JpegHeader, box: CropBox, size: number, context: boolean, ratio?: number, antialias = true): { px: Uint8Array; w: number; plan: ResizePlan } {
    const ids: number[] = [];
    try {
      const { img, plan: p } = this.decode(buf, h, box, size, context, ratio, antialias, ids);
      const w = p.x1 - p.x0;
      const px = this.bytesOf(img, w * (p.y1 - p.y0) * 3, ids);
      const plan = { ...p, x0: 0, y0: 0, x1: w, y1: p.y1 - p.y0, bx: p.bx - p.x0, by: p.by - p.y0 };
      return { px, w, plan };
    } finally {
      for (const id of ids) this.b.deleteTensor(id);
    }
  }

  /**
   * The n bytes of uint8 tensor `img`: the binding hands back no uint8 data, so they come as int32 words
   * (flattened, padded to a multiple of 4, Bitcast: no conversion of values) viewed as bytes.
   */
  private bytesOf(img: number, n: number, ids: number[]): Uint8Array {
    const b = this.b;
    const n4 = Math.ceil(n / 4);
    const shape = (...d: number[]) => {
      const id = b.createTensor([d.length], b.TF_INT32, Int32Array.from(d));
      ids.push(id);
      return id;
    };
    const op = (name: string, attrs: Attr[], inputs: number[]) => {
      const id = b.executeOp(name, attrs, inputs, 1)[0].id;
      ids.push(id);
      return id;
    };
    const u8 = { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_UINT8 };
    const i32 = (name: string) => ({ name, type: b.TF_ATTR_TYPE, value: b.TF_INT32 });
    let flat = op('Reshape', [u8, i32('Tshape')], [img, shape(n)]);
    if (n4 * 4 !== n) {
      const pad = b.createTensor([1, 2], b.TF_INT32, Int32Array.of(0, n4 * 4 - n));
      ids.push(pad);
      flat = op('Pad', [u8, i32('Tpaddings')], [flat, pad]);
    }
    const words = op('Bitcast', [u8, i32('type')], [op('Reshape', [u8, i32('Tshape')], [flat, shape(n4, 4)])]);
    const d = b.tensorDataSync(words) as Int32Array;
    if (d.length !== n4) throw new Error(`decoded window of ${d.length * 4} bytes: expected ${n}`);
    return new Uint8Array(d.buffer, d.byteOffset, n);
  }

  /** DecodeAndCropJpeg of the plan's window at the DCT scale; its tensors are pushed to `ids`. */
  private decode(buf: Uint8Array, h: JpegHeader, box: CropBox, size: number, context: boolean, ratio: number | undefined, antialias: boolean, ids: number[]): { img: number; plan: ResizePlan } {
    const b = this.b;
    const sb = storedBox(box, h.width, h.height, h.orientation);
    const r = ratio ?? dctRatio(sb.width, sb.height, size);
    // libjpeg's scaled size; scaled pixel i covers stored pixels [i*r, (i+1)*r)
    const sw = Math.ceil(h.width / r);
    const sh = Math.ceil(h.height / r);
    const plan = resizePlan(sb.left / r, sb.top / r, sb.width / r, sb.height / r, sw, sh, size, context, antialias);
    const contents = b.createTensor([], b.TF_STRING, [buf]);
    ids.push(contents);
    const win = b.createTensor([4], b.TF_INT32, Int32Array.of(plan.y0, plan.x0, plan.y1 - plan.y0, plan.x1 - plan.x0));
    ids.push(win);
    const img = b.executeOp('DecodeAndCropJpeg', this.attrsFor(r), [contents, win], 1)[0].id;
    ids.push(img);
    return { img, plan };
  }
}

const decoders = new WeakMap<object, TfJpegDecoder>();

/** ICCL_JPEG_DECODER=sharp: every JPEG goes through sharp, in every thread. */
export const nativeJpegSwitchedOff = nativeImageOpsSwitchedOff;

/**
 * The native decoder when native TensorFlow (tfjs-node or tfjs-node-gpu) is loaded in this thread, else
 * null (PNG and others, the pure-JS backend, or nothing loaded: the caller decodes with sharp). It never
 * loads TensorFlow itself. ICCL_JPEG_DECODER=sharp switches it off.
 */
export function nativeJpegDecoder(): TfJpegDecoder | null {
  const r = nativeResizer();
  if (!r) return null;
  let d = decoders.get(r);
  if (!d) {
    d = new TfJpegDecoder(r);
    decoders.set(r, d);
  }
  return d;
}
