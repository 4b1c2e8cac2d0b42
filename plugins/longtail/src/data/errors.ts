/**
 * A data file that does not match its format. The message is one line naming the file, the line or key,
 * the value found and what was expected, e.g.
 *   "train2018.json: annotations[3].category_id = 9000: expected an id listed in categories"
 */
export class DataFormatError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    readonly problem: string,
  ) {
    super(`${file}${where ? `: ${where}` : ''}: ${problem}`);
    this.name = 'DataFormatError';
  }
}

/** An image that could not be read or decoded (missing, truncated, not an image). */
export class ImageDecodeError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: cannot decode image: ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

/** The data could not be fetched (no network, wrong host); the message says what to do instead. */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** Short printable form of a value for error messages. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (v === undefined) return 'missing';
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
}
