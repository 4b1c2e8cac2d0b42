import { loadedTf } from '@iccl/tf-backend';

// Module-local binding: the global `Math` is slow to look up inside jest's VM context.
const Math = globalThis.Math;

/**
 * The resize half of the native JPEG path (tf-jpeg.ts), through tfjs-node's binding directly (no tfjs
 * tensors): which window of the image to read for a crop box, and its resize to size x size by
 * libtensorflow. The window rule is shared with resample.ts (raw store records), which computes the same
 * resize in JavaScript: a raw record and a JPEG record of the same pixels give the same floats.
 */

/** The parts of tfjs-node's native binding used by the native image path. */
export interface Binding {
  createTensor(shape: number[], dtype: number, values: unknown): number;
  deleteTensor(id: number): void;
  tensorDataSync(id: number): Float32Array | Int32Array | Uint8Array;
  executeOp(name: string, attrs: Attr[], inputs: number[], numOutputs: number): { id: number; shape: number[]; dtype: number }[];
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
export interface Attr {
  name: string;
  type: number;
  value: unknown;
}

/** A box in pixels; may be fractional. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Which pixels to read of an sw x sh (scaled) image, and how to resize them. */
export interface ResizePlan {
  /** the window [x0, x1) x [y0, y1), integers */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** the box, in the same (scaled) pixels */
  bx: number;
  by: number;
  bw: number;
  bh: number;
  /** plain bilinear of the whole window (ResizeBilinear) instead of ScaleAndTranslate */
  bilinear: boolean;
}

/**
 * The window for box (bx, by, bw, bh) of an sw x sh image. With `context`, the filter reads pixels around
 * the box as a resize of the whole image followed by a cut does (the eval path); without, the box is cut
 * first (random-resized-crop). Plain bilinear resizes the whole window, so the window must be the box (to
 * half a pixel when the box is not on the pixel grid). When enlarging on both axes the antialiased
 * triangle IS bilinear (its width only grows when shrinking) and ResizeBilinear is 2.5x cheaper.
 */
export function resizePlan(bx: number, by: number, bw: number, bh: number, sw: number, sh: number, size: number, context: boolean, antialias: boolean): ResizePlan {
  const bilinear = !context && (!antialias || (bw <= size && bh <= size));
  // the triangle kernel stretched by the downscale reaches bw/size pixels either side
  const mx = context ? Math.ceil(bw / size) + 1 : 0;
  const my = context ? Math.ceil(bh / size) + 1 : 0;
  // a tiny slack keeps float noise on integer edges from widening the window by a pixel
  const lo = (v: number) => (bilinear ? Math.round(v) : Math.floor(v + 1e-6));
  const hi = (v: number) => (bilinear ? Math.round(v) : Math.ceil(v - 1e-6));
  const x0 = Math.min(sw - 1, Math.max(0, lo(bx - mx)));
  const y0 = Math.min(sh - 1, Math.max(0, lo(by - my)));
  const x1 = Math.min(sw, Math.max(x0 + 1, hi(bx + bw + mx)));
  const y1 = Math.min(sh, Math.max(y0 + 1, hi(by + bh + my)));
  return { x0, y0, x1, y1, bx, by, bw, bh, bilinear };
}

export class TfResizer {
  private readonly resizeAttrs: Attr[];
  private readonly bilinearAttrs: Attr[];
  /** constant tensors of the output sizes seen, made once */
  private readonly sizes = new Map<number, number>();

  constructor(readonly b: Binding) {
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
   * The uint8 [1, y1-y0, x1-x0, 3] tensor `batch` (the plan's window) resized to size x size: the id of a
   * float tensor, values 0..255. Every tensor made is pushed to `ids` for the caller to delete.
   */
  resizeWindow(batch: number, p: ResizePlan, size: number, ids: number[]): number {
    const b = this.b;
    if (p.bilinear) {
      const out = b.executeOp('ResizeBilinear', this.bilinearAttrs, [batch, this.sizeTensor(size)], 1)[0].id;
      ids.push(out);
      return out;
    }
    const sy = size / p.bh;
    const sx = size / p.bw;
    const scale = b.createTensor([2], b.TF_FLOAT, Float32Array.of(sy, sx));
    ids.push(scale);
    // output pixel centre x + 0.5 samples the window at (x + 0.5 - t) / s: t = -(box start in the window) * s
    const shift = b.createTensor([2], b.TF_FLOAT, Float32Array.of(-(p.by - p.y0) * sy, -(p.bx - p.x0) * sx));
    ids.push(shift);
    const out = b.executeOp('ScaleAndTranslate', this.resizeAttrs, [batch, this.sizeTensor(size), scale, shift], 1)[0].id;
    ids.push(out);
    return out;
  }
}

/** ICCL_JPEG_DECODER=sharp: libtensorflow's image ops are not used (every JPEG goes through sharp), in every thread. */
export function nativeImageOpsSwitchedOff(): boolean {
  return process.env.ICCL_JPEG_DECODER === 'sharp';
}

/** tfjs-node's binding when native TensorFlow is loaded in this thread (never loads it), else null. */
export function nativeBinding(): Binding | null {
  if (nativeImageOpsSwitchedOff()) return null;
  const l = loadedTf();
  if (!l || l.info.backend !== 'tensorflow') return null;
  const binding = (l.tf.backend() as unknown as { binding?: Binding }).binding;
  return binding && typeof binding.executeOp === 'function' ? binding : null;
}

const resizers = new WeakMap<object, TfResizer>();

/** The native resizer of this thread's TensorFlow (one per binding), or null as nativeBinding. */
export function nativeResizer(): TfResizer | null {
  const b = nativeBinding();
  if (!b) return null;
  let r = resizers.get(b);
  if (!r) {
    r = new TfResizer(b);
    resizers.set(b, r);
  }
  return r;
}
