import sharp from 'sharp';
import { readJpegHeader, orientedSize } from '../src/data/jpeg-header';
import { cropResize } from '../src/data/transforms';

// Looking up the global Math inside jest's VM context is slow, and the fixtures run it per pixel.
const Math = globalThis.Math;

/** A smooth colour gradient (so resampling paths can be compared pixel by pixel). */
async function gradient(width: number, height: number): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      px[o] = Math.round((255 * x) / (width - 1));
      px[o + 1] = Math.round((255 * y) / (height - 1));
      px[o + 2] = 128;
    }
  }
  return sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

describe('readJpegHeader', () => {
  test('size and EXIF orientation agree with libvips for baseline, progressive, grey and rotated files', async () => {
    const base = await gradient(120, 70);
    const files = [
      base,
      await sharp(base).jpeg({ progressive: true }).toBuffer(),
      await sharp(base).greyscale().jpeg().toBuffer(),
      ...(await Promise.all([3, 6, 8].map((o) => sharp(base).withMetadata({ orientation: o }).jpeg().toBuffer()))),
    ];
    for (const f of files) {
      const h = readJpegHeader(f)!;
      const m = await sharp(f).metadata();
      expect({ width: h.width, height: h.height, orientation: h.orientation }).toEqual({ width: m.width, height: m.height, orientation: m.orientation ?? 1 });
      expect(orientedSize(h)).toEqual({ width: m.autoOrient.width, height: m.autoOrient.height });
    }
  });

  test('null for what is not a readable JPEG (PNG, truncated before the frame header, empty)', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#fff' } }).png().toBuffer();
    const jpg = await gradient(16, 16);
    expect(readJpegHeader(png)).toBeNull();
    expect(readJpegHeader(jpg.subarray(0, 30))).toBeNull();
    expect(readJpegHeader(Buffer.alloc(0))).toBeNull();
  });
});

describe('cropResize', () => {
  test('shrink-on-load path gives the crop of the cut-then-resize path (same box, within a few grey levels)', async () => {
    const W = 800;
    const H = 600;
    const f = await gradient(W, H);
    const box = { left: 150, top: 90, width: 520, height: 480 }; // 2.3x and 2.1x the output: shrinkable
    const fast = await cropResize(sharp(f), W, H, box, 224, true).raw().toBuffer();
    const slow = await cropResize(sharp(f), W, H, box, 224, false).raw().toBuffer();
    expect(fast.length).toBe(224 * 224 * 3);
    let sum = 0;
    let worst = 0;
    for (let i = 0; i < fast.length; i++) {
      const d = Math.abs(fast[i] - slow[i]);
      sum += d;
      worst = Math.max(worst, d);
    }
    // A 520-pixel span in 224 columns: one output pixel is 2.3 grey levels of the red ramp.
    expect(sum / fast.length).toBeLessThan(2);
    expect(worst).toBeLessThan(8);
    // the box's corners: red and green ramps at the box's left/top and right/bottom edges
    const at = (x: number, y: number, c: number) => fast[(y * 224 + x) * 3 + c];
    expect(at(0, 0, 0)).toBeCloseTo((255 * 150) / 799, -1);
    expect(at(223, 223, 1)).toBeCloseTo((255 * 570) / 599, -1);
  }, 30_000);

  test('a box smaller than twice the output is cut first (no shrink), output size either way', async () => {
    const f = await gradient(300, 200);
    const out = await cropResize(sharp(f), 300, 200, { left: 10, top: 5, width: 250, height: 190 }, 224, true).raw().toBuffer({ resolveWithObject: true });
    expect([out.info.width, out.info.height]).toEqual([224, 224]);
  });
});
