/** What the decode path needs from a JPEG before decoding it. */
export interface JpegHeader {
  /** stored (pre-rotation) size */
  width: number;
  height: number;
  /** EXIF orientation 1-8 (1 when absent) */
  orientation: number;
  /** colour components in the frame: 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK */
  components: number;
  /** sample precision in bits (8, or 12 in rare files) */
  precision: number;
}

const u16 = (b: Uint8Array, o: number, little = false) => (little ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
const u32 = (b: Uint8Array, o: number, little: boolean) =>
  little ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 2 ** 24 : b[o] * 2 ** 24 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);

/** EXIF orientation from an APP1 segment's payload (starting at "Exif\0\0"), 1 when not found. */
function exifOrientation(b: Uint8Array, start: number, end: number): number {
  const tiff = start + 6;
  if (end - tiff < 8) return 1;
  const little = b[tiff] === 0x49 && b[tiff + 1] === 0x49;
  if (!little && !(b[tiff] === 0x4d && b[tiff + 1] === 0x4d)) return 1;
  const ifd = tiff + u32(b, tiff + 4, little);
  if (ifd + 2 > end) return 1;
  const n = u16(b, ifd, little);
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + 12 * k;
    if (e + 12 > end) return 1;
    if (u16(b, e, little) === 0x0112) {
      const v = u16(b, e + 8, little);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/**
 * Size and EXIF orientation of a JPEG from its markers (a few hundred bytes read, nothing decoded),
 * or null when `b` is not a JPEG this can read (the caller then asks libvips). Saves one libvips
 * call per image on the training path, where the crop box must be known before decoding.
 */
export function readJpegHeader(b: Uint8Array): JpegHeader | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let orientation = 1;
  let o = 2;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) return null;
    const m = b[o + 1];
    if (m === 0xff) {
      o += 1; // fill byte
      continue;
    }
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      o += 2; // markers without a length
      continue;
    }
    const len = u16(b, o + 2);
    const seg = o + 4;
    if (len < 2 || o + 2 + len > b.length) return null;
    if (m === 0xe1 && len >= 8 && b[seg] === 0x45 && b[seg + 1] === 0x78 && b[seg + 2] === 0x69 && b[seg + 3] === 0x66 && b[seg + 4] === 0 && b[seg + 5] === 0) {
      orientation = exifOrientation(b, seg, o + 2 + len);
    }
    // SOF0-SOF15 except DHT (C4), JPG (C8), DAC (CC): precision, height, width follow the length
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (len < 8) return null;
      const height = u16(b, seg + 1);
      const width = u16(b, seg + 3);
      return width > 0 && height > 0 ? { width, height, orientation, components: b[seg + 5], precision: b[seg] } : null;
    }
    if (m === 0xda || m === 0xd9) return null; // scan or end before a frame header
    o += 2 + len;
  }
  return null;
}

/** Size after EXIF rotation (orientations 5-8 swap the axes). */
export function orientedSize(h: JpegHeader): { width: number; height: number } {
  return h.orientation >= 5 ? { width: h.height, height: h.width } : { width: h.width, height: h.height };
}
