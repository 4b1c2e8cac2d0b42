import { describe, DEFAULT_THRESHOLDS } from './describe';
import { exponentialProfile } from './longtail-profile';
import { MemoryDataset, sharedBytes } from './memory-dataset';
import { channelStats } from './normalization';
import { randNormal, rngFor } from './rng';
import { transformOptions } from './transforms';
import type { DataSplit, ShotThresholds, TransformOptions } from './types';

// A module-local binding: looking up the global `Math` is very slow inside jest's VM context, and these
// functions run per pixel / per draw.
const Math = globalThis.Math;

/**
 * A long-tailed image set generated from a seed: no download, same bytes on every machine.
 *
 * Each class is a (shape, texture) pair: shapes disk, square, triangle, cross, ring; textures solid and
 * stripes (plus checker and dots beyond 10 classes). Every image varies in nuisance factors a classifier must
 * ignore: position, scale, rotation, foreground and background colour, a background gradient, stripe
 * phase/orientation and pixel noise. Colour carries no class information, so a network has to learn shape
 * and texture.
 */
export const SHAPES = ['disk', 'square', 'triangle', 'cross', 'ring'] as const;
export const TEXTURES = ['solid', 'stripes', 'checker', 'dots'] as const;

export interface SyntheticOptions {
  numClasses?: number;
  /** images of class 0 in the training split (default 500) */
  maxPerClass?: number;
  /** n_max / n_min (default 100); 1 = balanced */
  imbalanceFactor?: number;
  /** balanced test split: images per class (default 100) */
  testPerClass?: number;
  /** balanced validation split, generated from its own streams: images per class (default testPerClass) */
  valPerClass?: number;
  seed?: number;
  /** image side (default 32) */
  imageSize?: number;
  thresholds?: ShotThresholds;
  transform?: Partial<TransformOptions>;
}

export function syntheticClassNames(numClasses: number): string[] {
  const names: string[] = [];
  for (let t = 0; t < TEXTURES.length; t++) for (const s of SHAPES) names.push(`${s}-${TEXTURES[t]}`);
  // Texture-major order: class c is shape c % 5 with texture floor(c / 5), so K=10 uses solid and stripes.
  return names.slice(0, numClasses);
}

/** Point-in-shape test in shape coordinates (unit = the shape's radius). */
function inside(shape: number, ux: number, uy: number): boolean {
  const r2 = ux * ux + uy * uy;
  switch (shape) {
    case 0:
      return r2 <= 1;
    case 1:
      return Math.abs(ux) <= 0.78 && Math.abs(uy) <= 0.78;
    case 2: {
      // Equilateral triangle, circumradius 1: inside all three half-planes at distance 0.5 from the centre.
      for (let k = 0; k < 3; k++) {
        const a = Math.PI / 2 + (2 * Math.PI * k) / 3;
        if (ux * Math.cos(a) + uy * Math.sin(a) > 0.5) return false;
      }
      return true;
    }
    case 3:
      return (Math.abs(ux) <= 0.3 && Math.abs(uy) <= 0.95) || (Math.abs(uy) <= 0.3 && Math.abs(ux) <= 0.95);
    default:
      return r2 <= 1 && r2 >= 0.3;
  }
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (((i % 6) + 6) % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

const luma = (c: [number, number, number]) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

/** Renders one image of class `cls` into `out` (uint8 HWC, size*size*3), all variation from `rng`. */
export function renderSynthetic(cls: number, size: number, rng: () => number, out: Uint8Array): void {
  const shape = cls % SHAPES.length;
  const texture = Math.floor(cls / SHAPES.length);
  const bg = hsvToRgb(rng(), rng() * 0.8, 0.1 + rng() * 0.85);
  let fg: [number, number, number];
  // Keep the shape visible: at least 0.3 of luma contrast to the background.
  do fg = hsvToRgb(rng(), rng(), 0.1 + rng() * 0.9);
  while (Math.abs(luma(fg) - luma(bg)) < 0.3);
  const alt: [number, number, number] = [fg[0] * 0.25 + bg[0] * 0.1, fg[1] * 0.25 + bg[1] * 0.1, fg[2] * 0.25 + bg[2] * 0.1];
  // Stripes/dots must contrast with fg too: use a dark or bright companion depending on fg.
  const companion: [number, number, number] = luma(fg) > 0.5 ? alt : [Math.min(1, fg[0] + 0.6), Math.min(1, fg[1] + 0.6), Math.min(1, fg[2] + 0.6)];
  const radius = size * (0.28 + rng() * 0.14);
  const cx = size / 2 + (rng() - 0.5) * (size - 2 * radius) * 0.9;
  const cy = size / 2 + (rng() - 0.5) * (size - 2 * radius) * 0.9;
  const theta = (rng() - 0.5) * 0.6;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const gradAngle = rng() * 2 * Math.PI;
  const gradAmp = rng() * 0.25;
  const period = 3 + rng() * 2;
  const texAngle = rng() * Math.PI;
  const phase = rng() * period;
  const noise = 0.01 + rng() * 0.04;
  const tc = Math.cos(texAngle);
  const ts = Math.sin(texAngle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // 2x2 supersampling gives soft edges (less aliasing, more like photographs).
      let cover = 0;
      let texHits = 0;
      for (let sy = 0; sy < 2; sy++) {
        for (let sx = 0; sx < 2; sx++) {
          const px = x + 0.25 + 0.5 * sx - cx;
          const py = y + 0.25 + 0.5 * sy - cy;
          const ux = (cos * px + sin * py) / radius;
          const uy = (-sin * px + cos * py) / radius;
          if (!inside(shape, ux, uy)) continue;
          cover++;
          const a = tc * px + ts * py + phase;
          const b = -ts * px + tc * py + phase;
          let on = false;
          if (texture === 1) on = ((a / period) % 1 + 1) % 1 < 0.5;
          else if (texture === 2) on = (Math.floor(a / period) + Math.floor(b / period)) % 2 === 0;
          else if (texture === 3) {
            const da = (((a / period) % 1) + 1) % 1 - 0.5;
            const db = (((b / period) % 1) + 1) % 1 - 0.5;
            on = da * da + db * db < 0.09;
          }
          if (on) texHits++;
        }
      }
      const g = 1 + gradAmp * (((x - size / 2) * Math.cos(gradAngle) + (y - size / 2) * Math.sin(gradAngle)) / size);
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const back = bg[c] * g;
        const front = (fg[c] * (cover - texHits) + companion[c] * texHits) / Math.max(cover, 1);
        const v = back + (front - back) * (cover / 4) + noise * randNormal(rng);
        out[o + c] = Math.max(0, Math.min(255, Math.round(v * 255)));
      }
    }
  }
}

/** The synthetic long-tailed data set: exponential profile on train, balanced test. */
export function syntheticDataset(opts: SyntheticOptions = {}): DataSplit {
  const K = opts.numClasses ?? 10;
  if (!(Number.isInteger(K) && K >= 2 && K <= SHAPES.length * TEXTURES.length)) {
    throw new Error(`synthetic numClasses = ${K}: expected an integer in [2, ${SHAPES.length * TEXTURES.length}]`);
  }
  const nMax = opts.maxPerClass ?? 500;
  const IF = opts.imbalanceFactor ?? 100;
  const nTest = opts.testPerClass ?? 100;
  const nVal = opts.valPerClass || nTest;
  if (!(Number.isInteger(nVal) && nVal >= 1)) throw new RangeError(`valPerClass = ${nVal}: expected an integer >= 0 (0: the data set's default)`);
  const seed = opts.seed ?? 0;
  const size = opts.imageSize ?? 32;
  if (!(Number.isInteger(size) && size >= 16 && size <= 256)) throw new Error(`synthetic imageSize = ${size}: expected an integer in [16, 256]`);
  const counts = exponentialProfile(nMax, K, IF);
  const makeSplit = (split: number, perClass: number[]) => {
    const total = perClass.reduce((a, b) => a + b, 0);
    const px = sharedBytes(total * size * size * 3);
    const labels = new Int32Array(total);
    const ids: string[] = [];
    let k = 0;
    perClass.forEach((n, c) => {
      for (let j = 0; j < n; j++) {
        // Item (split, class, j) has its own stream: the first n images of a class never depend on IF.
        renderSynthetic(c, size, rngFor(seed, split, c, j), px.subarray(k * size * size * 3, (k + 1) * size * size * 3));
        labels[k] = c;
        ids.push(`${['train', 'test', 'val'][split]}/${c}/${j}`);
        k++;
      }
    });
    return { px, labels, ids };
  };
  const tr = makeSplit(0, counts);
  const te = makeSplit(1, new Array<number>(K).fill(nTest));
  // Split 2: streams (seed, 2, class, j) that neither train (0) nor test (1) draws from.
  const va = makeSplit(2, new Array<number>(K).fill(nVal));
  const transform = transformOptions('cifar', { size, normalization: channelStats(tr.px), ...opts.transform });
  const name = `synthetic-lt`;
  const train = new MemoryDataset(`${name}/train`, tr.px, tr.labels, K, size, size, transform, (i) => tr.ids[i]);
  const test = new MemoryDataset(`${name}/test`, te.px, te.labels, K, size, size, transform, (i) => te.ids[i]);
  const val = new MemoryDataset(`${name}/val`, va.px, va.labels, K, size, size, transform, (i) => va.ids[i]);
  const description = describe(name, `synthetic(seed=${seed},size=${size},nMax=${nMax},test=${nTest})`, syntheticClassNames(K), { train, val, test }, {
    thresholds: opts.thresholds ?? DEFAULT_THRESHOLDS,
    imbalanceFactor: IF,
    valRule: `${nVal} per class, generated (streams of their own)`,
  });
  return { train, val, test, description, inputShape: [transform.size, transform.size, 3] };
}
