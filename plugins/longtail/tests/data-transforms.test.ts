import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { colorJitterInPlace, decodeFile, finish, padCropFlip, randomResizedCropBox, resizeShorter, transformOptions } from '../src/data/transforms';
import { rngFor } from '../src/data/rng';

const dir = mkdtempSync(join(tmpdir(), 'lt-tf-'));
const identity = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
const cifar = (size: number) => transformOptions('cifar', { size, normalization: identity });

/** 40 wide x 20 high: left half red, right half blue. */
async function halves(): Promise<Buffer> {
  const px = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) px.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
  return px;
}
const at = (x: Float32Array, size: number, r: number, c: number) => Array.from(x.subarray((r * size + c) * 3, (r * size + c) * 3 + 3));

describe('decoding to RGB', () => {
  test('EXIF orientation 6 is applied before the resize: left half ends up on top', async () => {
    const f = join(dir, 'rot.jpg');
    await sharp(await halves(), { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(f);
    const x = await decodeFile(f, cifar(16), () => 0, false);
    expect(x.length).toBe(16 * 16 * 3);
    const top = at(x, 16, 2, 8);
    const bottom = at(x, 16, 13, 8);
    expect(top[0]).toBeGreaterThan(0.8);
    expect(top[2]).toBeLessThan(0.2);
    expect(bottom[2]).toBeGreaterThan(0.8);
    expect(bottom[0]).toBeLessThan(0.2);
  });

  test('without orientation the same file is left/right', async () => {
    const f = join(dir, 'plain.jpg');
    await sharp(await halves(), { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).toFile(f);
    const x = await decodeFile(f, cifar(16), () => 0, false);
    expect(at(x, 16, 8, 2)[0]).toBeGreaterThan(0.8);
    expect(at(x, 16, 8, 13)[2]).toBeGreaterThan(0.8);
  });

  test('greyscale JPEG becomes 3 equal channels', async () => {
    const f = join(dir, 'grey.jpg');
    const px = Buffer.alloc(16 * 16, 0);
    for (let i = 0; i < px.length; i++) px[i] = (i % 16) * 16;
    await sharp(px, { raw: { width: 16, height: 16, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 100 }).toFile(f);
    expect((await sharp(f).metadata()).channels).toBe(1);
    const x = await decodeFile(f, cifar(16), () => 0, false);
    expect(x.length).toBe(16 * 16 * 3);
    for (let p = 0; p < 256; p += 17) {
      expect(x[p * 3]).toBeCloseTo(x[p * 3 + 1], 6);
      expect(x[p * 3]).toBeCloseTo(x[p * 3 + 2], 6);
    }
    expect(at(x, 16, 5, 15)[0]).toBeGreaterThan(0.85); // column 15 was 240/255
  });

  test('CMYK JPEG is converted to RGB colours', async () => {
    const f = join(dir, 'cmyk.jpg');
    const px = Buffer.alloc(16 * 16 * 3);
    for (let i = 0; i < 256; i++) px.set([220, 30, 30], i * 3);
    await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toFile(f);
    expect((await sharp(f).metadata()).space).toBe('cmyk');
    const x = await decodeFile(f, cifar(16), () => 0, false);
    const [r, g, b] = at(x, 16, 8, 8);
    expect(r).toBeGreaterThan(0.7);
    expect(g).toBeLessThan(0.3);
    expect(b).toBeLessThan(0.3);
  });

  test('PNG with alpha gives 3 channels', async () => {
    const f = join(dir, 'alpha.png');
    const px = Buffer.alloc(8 * 8 * 4);
    for (let i = 0; i < 64; i++) px.set([10, 200, 30, 255], i * 4);
    await sharp(px, { raw: { width: 8, height: 8, channels: 4 } }).png().toFile(f);
    const x = await decodeFile(f, cifar(8), () => 0, false);
    expect(x.length).toBe(8 * 8 * 3);
    expect(at(x, 8, 4, 4).map((v) => Math.round(v * 255))).toEqual([10, 200, 30]);
  });

  test('missing, truncated and non-image files raise ImageDecodeError naming the file', async () => {
    await expect(decodeFile(join(dir, 'nope.jpg'), cifar(8), () => 0, false)).rejects.toThrow(/nope\.jpg: cannot decode image: file not found/);
    const good = await sharp(await halves(), { raw: { width: 40, height: 20, channels: 3 } }).jpeg().toBuffer();
    const trunc = join(dir, 'trunc.jpg');
    require('node:fs').writeFileSync(trunc, good.subarray(0, Math.floor(good.length / 2)));
    await expect(decodeFile(trunc, cifar(8), () => 0, false)).rejects.toMatchObject({ name: 'ImageDecodeError', file: trunc });
    const txt = join(dir, 'text.jpg');
    require('node:fs').writeFileSync(txt, 'not an image');
    await expect(decodeFile(txt, cifar(8), () => 0, false)).rejects.toMatchObject({ name: 'ImageDecodeError' });
  });
});

describe('geometry', () => {
  test('evaluation: shorter side to 256, centre crop 224 (500x375 -> 341x256)', async () => {
    expect(resizeShorter(500, 375, 256)).toEqual([341, 256]);
    expect(resizeShorter(375, 500, 256)).toEqual([256, 341]);
    const f = join(dir, 'big.jpg');
    await sharp({ create: { width: 500, height: 375, channels: 3, background: { r: 0, g: 128, b: 255 } } }).jpeg().toFile(f);
    const t = transformOptions('imagenet', { normalization: identity });
    const x = await decodeFile(f, t, () => 0.3, false);
    expect(x.length).toBe(224 * 224 * 3);
    const y = await decodeFile(f, t, rngFor(1), true);
    expect(y.length).toBe(224 * 224 * 3);
  });

  test('random-resized-crop boxes stay inside the image with area and aspect in range (or the fallback)', () => {
    const rng = rngFor(5);
    for (let k = 0; k < 2000; k++) {
      const W = 20 + Math.floor(rng() * 600);
      // aspect inside the ratio range, so a random box always exists (the fallback is tested below)
      const H = Math.round(W * (0.8 + rng() * 0.45));
      const b = randomResizedCropBox(W, H, [0.08, 1], [3 / 4, 4 / 3], rng);
      expect(b.left).toBeGreaterThanOrEqual(0);
      expect(b.top).toBeGreaterThanOrEqual(0);
      expect(b.left + b.width).toBeLessThanOrEqual(W);
      expect(b.top + b.height).toBeLessThanOrEqual(H);
      const frac = (b.width * b.height) / (W * H);
      // rounding w and h to integers loses at most half a pixel on each side of the exact box
      expect(frac).toBeGreaterThanOrEqual(0.08 - (0.5 * (b.width + b.height + 1)) / (W * H));
      expect(b.width / b.height).toBeGreaterThan(0.7);
      expect(b.width / b.height).toBeLessThan(1.45);
    }
  });

  test('random-resized-crop fallback for an extreme aspect: centred box clamped to ratio 4/3', () => {
    // 600x20: a box of area >= 0.08 * 12000 with aspect <= 4/3 needs h >= 26.8 > 20, so every try fails
    expect(randomResizedCropBox(600, 20, [0.08, 1], [3 / 4, 4 / 3], rngFor(1))).toEqual({ left: 286, top: 0, width: 27, height: 20 });
  });

  test('pad + crop + flip against a hand-computed 3x3 example', () => {
    // 3x3 image, pixel value v = 10*y + x in every channel; pad 1, crop 3.
    const src = new Uint8Array(27);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) src.fill(10 * y + x + 1, (y * 3 + x) * 3, (y * 3 + x) * 3 + 3);
    const out = new Uint8Array(27);
    // rng draws: dy -> floor(0*3) - 1 = -1, dx -> floor(0.99*3) - 1 = 1, flip -> 0.2 < 0.5 (mirror)
    const draws = [0, 0.99, 0.2];
    padCropFlip(src, 3, 3, 3, 1, true, () => draws.shift() as number, out);
    const grid = [0, 1, 2].map((y) => [0, 1, 2].map((x) => out[(y * 3 + x) * 3]));
    // unflipped crop rows -1..1, cols 1..3: [[0,0,0],[2,3,0],[12,13,0]] (+1 offsets: values 2,3 / 12,13 are x=1,2)
    expect(grid).toEqual([
      [0, 0, 0],
      [0, 3, 2],
      [0, 13, 12],
    ]);
  });
});

describe('normalisation', () => {
  test('the lookup-table path equals (v/255 - mean)/std; the jitter path with j=0-like factors agrees', () => {
    const t = transformOptions('imagenet', {});
    const px = Uint8Array.from({ length: 768 }, (_, i) => i % 256);
    const x = finish(px, t, () => 0.5, true);
    for (let i = 0; i < px.length; i++) {
      const c = i % 3;
      expect(x[i]).toBeCloseTo((px[i] / 255 - t.normalization.mean[c]) / t.normalization.std[c], 5);
    }
    // jitter on with every factor drawn as exactly 1 (rng 0.5): same numbers through the float path
    const y = finish(px, { ...t, colorJitter: 0.4 }, () => 0.5, true);
    for (let i = 0; i < px.length; i++) expect(y[i]).toBeCloseTo(x[i], 5);
  });
});

describe('colour jitter', () => {
  test('matches a float64 reference: brightness, contrast about the mean grey, saturation, clamp', () => {
    const n = 50;
    const rng0 = rngFor(3);
    const x = Float32Array.from({ length: n * 3 }, () => rng0());
    const draws = [0.9, 0.1, 0.75]; // j = 0.4: b = 1.32, c = 0.68, s = 1.2
    const y = x.slice();
    colorJitterInPlace(y, 0.4, () => draws.shift() as number);
    const [b, c, sat] = [1.32, 0.68, 1.2];
    const px = Array.from({ length: n }, (_, i) => [x[3 * i] * b, x[3 * i + 1] * b, x[3 * i + 2] * b]);
    const grey = (p: number[]) => 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    const m = px.reduce((a, p) => a + grey(p), 0) / n;
    px.forEach((p, i) => {
      const q = p.map((v) => (v - m) * c + m);
      const g = grey(q);
      const r = q.map((v) => Math.min(1, Math.max(0, (v - g) * sat + g)));
      for (let k = 0; k < 3; k++) expect(y[3 * i + k]).toBeCloseTo(r[k], 5);
    });
  });
});
