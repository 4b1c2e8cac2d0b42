import type { ResizePlan } from './tf-resize';

// Module-local binding: the global `Math` is slow to look up inside jest's VM context (per-pixel loops).
const Math = globalThis.Math;

/**
 * The native path's resize of a uint8 RGB window (tf-resize.ts: ResizeBilinear with half-pixel centres,
 * or ScaleAndTranslate with the antialiased triangle kernel), written out in JavaScript so that it reads
 * the pixels where they are (a raw store record, or the window libtensorflow decoded) and writes the
 * normalised, flipped floats straight into the caller's buffer: no float image back from TensorFlow (a
 * fresh 600 kB per 224 image, page-faulted, then garbage), no second pass for flip and normalisation.
 * Same taps and weights as TensorFlow's kernels; sums and sample positions in double where TensorFlow
 * uses float, so values differ by rounding only (measured 5e-3 of a level at most on a pattern with
 * 255-level steps, i.e. 2e-5 after normalisation; tests/data-raw-resample.test.ts).
 */

/** One axis: per output position, the first source index, the number of taps and their weights. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  /** n x span weights, row-major; only the first count[i] of a row are used */
  weights: Float64Array;
  span: number;
}

const f32 = Math.fround;

/** ScaleAndTranslate's spans (TensorFlow's ComputeSpans with the triangle kernel, radius 1). */
function triangleTaps(inSize: number, n: number, scale: number, translate: number, antialias: boolean): Taps {
  const invScale = 1 / f32(scale);
  const invTranslate = f32(translate) / f32(scale);
  const kScale = antialias ? Math.max(invScale, 1) : 1;
  const span = Math.min(2 * Math.ceil(kScale) + 1, inSize);
  const t: Taps = { start: new Int32Array(n), count: new Int32Array(n), weights: new Float64Array(n * span), span };
  for (let x = 0; x < n; x++) {
    const sample = (x + 0.5) * invScale - invTranslate;
    if (sample < 0 || sample > inSize) continue; // TensorFlow leaves such an output 0 (never for a box inside the image)
    const lo = Math.min(inSize - 1, Math.max(0, Math.ceil(sample - kScale - 0.5)));
    const hi = Math.min(inSize - 1, Math.max(0, Math.floor(sample + kScale - 0.5))) + 1;
    let sum = 0;
    for (let s = lo; s < hi; s++) {
      const w = Math.max(0, 1 - Math.abs((s + 0.5 - sample) / kScale));
      t.weights[x * span + s - lo] = w;
      sum += w;
    }
    if (Math.abs(sum) >= 1000 * 1.1920929e-7) for (let s = lo; s < hi; s++) t.weights[x * span + s - lo] /= sum;
    // taps of weight 0 at either end add nothing: dropped, so that most outputs take the 2- or 3-tap loops
    let first = 0;
    let n = hi - lo;
    while (n > 1 && t.weights[x * span + first] === 0) {
      first++;
      n--;
    }
    while (n > 1 && t.weights[x * span + first + n - 1] === 0) n--;
    if (first) t.weights.copyWithin(x * span, x * span + first, x * span + first + n);
    t.start[x] = lo + first;
    t.count[x] = n;
  }
  return t;
}

/** ResizeBilinear's two taps with half-pixel centres (no antialiasing): input (x + 0.5) * in/n - 0.5. */
function bilinearTaps(inSize: number, n: number): Taps {
  const scale = f32(inSize / n);
  const t: Taps = { start: new Int32Array(n), count: new Int32Array(n), weights: new Float64Array(n * 2), span: 2 };
  for (let x = 0; x < n; x++) {
    const at = f32(f32((x + 0.5) * scale) - 0.5);
    const fl = Math.floor(at);
    const lo = Math.max(fl, 0);
    const hi = Math.min(Math.ceil(at), inSize - 1);
    const l = f32(at - fl);
    t.start[x] = lo;
    t.count[x] = hi > lo ? 2 : 1;
    t.weights[x * 2] = hi > lo ? 1 - l : 1;
    t.weights[x * 2 + 1] = l;
  }
  return t;
}

function tapsFor(p: ResizePlan, horizontal: boolean, size: number, antialias: boolean): Taps {
  const inSize = horizontal ? p.x1 - p.x0 : p.y1 - p.y0;
  if (p.bilinear) return bilinearTaps(inSize, size);
  const s = size / (horizontal ? p.bw : p.bh);
  const start = horizontal ? p.bx - p.x0 : p.by - p.y0;
  return triangleTaps(inSize, size, s, -start * s, antialias);
}

/** Reused between images (this runs synchronously: one image at a time per thread). */
const scratch = { rows: new Float32Array(0) };

/** Columns: window rows [r0, r1) of `px` through the horizontal taps into `rows` (size*3 floats per row). */
function horizontal(px: Uint8Array, W: number, x0: number, y0: number, r0: number, r1: number, cx: Taps, size: number, rows: Float32Array): void {
  const xs = cx.start;
  const xc = cx.count;
  const xw = cx.weights;
  const span = cx.span;
  for (let r = r0; r < r1; r++) {
    const srcRow = ((y0 + r) * W + x0) * 3;
    let o = (r - r0) * size * 3;
    for (let x = 0; x < size; x++, o += 3) {
      let s = srcRow + xs[x] * 3;
      const n = xc[x];
      const wb = x * span;
      if (n === 2) {
        const w0 = xw[wb];
        const w1 = xw[wb + 1];
        rows[o] = w0 * px[s] + w1 * px[s + 3];
        rows[o + 1] = w0 * px[s + 1] + w1 * px[s + 4];
        rows[o + 2] = w0 * px[s + 2] + w1 * px[s + 5];
        continue;
      }
      if (n === 3) {
        const w0 = xw[wb];
        const w1 = xw[wb + 1];
        const w2 = xw[wb + 2];
        rows[o] = w0 * px[s] + w1 * px[s + 3] + w2 * px[s + 6];
        rows[o + 1] = w0 * px[s + 1] + w1 * px[s + 4] + w2 * px[s + 7];
        rows[o + 2] = w0 * px[s + 2] + w1 * px[s + 5] + w2 * px[s + 8];
        continue;
      }
      let a = 0;
      let b = 0;
      let c = 0;
      for (let k = 0; k < n; k++, s += 3) {
        const w = xw[wb + k];
        a += w * px[s];
        b += w * px[s + 1];
        c += w * px[s + 2];
      }
      rows[o] = a;
      rows[o + 1] = b;
      rows[o + 2] = c;
    }
  }
}

/**
 * The plan's window of the W-wide RGB image `px` resized to size x size, each value v of channel c
 * written as v * mul[c] + add[c] into `out` (size*size*3), mirrored horizontally when `flip`. Columns
 * first, then rows, as TensorFlow's kernels do.
 */
export function resampleRgb(px: Uint8Array, W: number, p: ResizePlan, size: number, antialias: boolean, flip: boolean, mul: ArrayLike<number>, add: ArrayLike<number>, out: Float32Array): Float32Array {
  const cx = tapsFor(p, true, size, antialias);
  const cy = tapsFor(p, false, size, antialias);
  // only the window rows some output row reads
  let r0 = Number.MAX_SAFE_INTEGER;
  let r1 = 0;
  for (let y = 0; y < size; y++) {
    if (cy.count[y] === 0) continue;
    r0 = Math.min(r0, cy.start[y]);
    r1 = Math.max(r1, cy.start[y] + cy.count[y]);
  }
  if (r1 <= r0) r0 = r1 = 0;
  const stride = size * 3;
  if (scratch.rows.length < (r1 - r0) * stride) scratch.rows = new Float32Array((r1 - r0) * stride);
  const rows = scratch.rows;
  horizontal(px, W, p.x0, p.y0, r0, r1, cx, size, rows);
  vertical(rows, r0, cy, size, flip, mul, add, out);
  return out;
}

/** Rows: the horizontal pass's rows through the vertical taps, then v * mul + add, flipped, into `out`. */
function vertical(rows: Float32Array, r0: number, cy: Taps, size: number, flip: boolean, mul: ArrayLike<number>, add: ArrayLike<number>, out: Float32Array): void {
  const m0 = +mul[0];
  const m1 = +mul[1];
  const m2 = +mul[2];
  const a0 = +add[0];
  const a1 = +add[1];
  const a2 = +add[2];
  const yw = cy.weights;
  const span = cy.span;
  const stride = size * 3;
  const step = flip ? -3 : 3;
  for (let y = 0; y < size; y++) {
    const n = cy.count[y];
    const wb = y * span;
    let s = (cy.start[y] - r0) * stride;
    let o = y * stride + (flip ? stride - 3 : 0);
    if (n === 2) {
      const w0 = yw[wb];
      const w1 = yw[wb + 1];
      for (let x = 0; x < size; x++, o += step, s += 3) {
        out[o] = (w0 * rows[s] + w1 * rows[s + stride]) * m0 + a0;
        out[o + 1] = (w0 * rows[s + 1] + w1 * rows[s + stride + 1]) * m1 + a1;
        out[o + 2] = (w0 * rows[s + 2] + w1 * rows[s + stride + 2]) * m2 + a2;
      }
      continue;
    }
    if (n === 3) {
      const w0 = yw[wb];
      const w1 = yw[wb + 1];
      const w2 = yw[wb + 2];
      const s2 = 2 * stride;
      for (let x = 0; x < size; x++, o += step, s += 3) {
        out[o] = (w0 * rows[s] + w1 * rows[s + stride] + w2 * rows[s + s2]) * m0 + a0;
        out[o + 1] = (w0 * rows[s + 1] + w1 * rows[s + stride + 1] + w2 * rows[s + s2 + 1]) * m1 + a1;
        out[o + 2] = (w0 * rows[s + 2] + w1 * rows[s + stride + 2] + w2 * rows[s + s2 + 2]) * m2 + a2;
      }
      continue;
    }
    for (let x = 0; x < size; x++, o += step, s += 3) {
      let a = 0;
      let b = 0;
      let c = 0;
      for (let k = 0, t = s; k < n; k++, t += stride) {
        const w = yw[wb + k];
        a += w * rows[t];
        b += w * rows[t + 1];
        c += w * rows[t + 2];
      }
      out[o] = a * m0 + a0;
      out[o + 1] = b * m1 + a1;
      out[o + 2] = c * m2 + a2;
    }
  }
}
