import { close, open, read } from 'node:fs';
import { open as openP, rename, rm } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { DataFormatError } from './errors';

/**
 * One shard of a prepared store: the encoded images of a fixed range of items, then a table of where each
 * is, then a footer. Layout (little-endian):
 *   header  "ICCLSHD1"
 *   payload records, back to back
 *   table   per record 6 x u32: offset, length, width, height, label, crc32 of the payload
 *   footer  u32 records, u32 crc32 of the table, u64 table offset, 16 bytes input key, "ICCLEND1"
 * The footer comes last so that a truncated file has no end marker; every payload carries its CRC so a
 * flipped byte is found when read. A record of length 0 is an item whose original could not be decoded.
 */
const HEADER = Buffer.from('ICCLSHD1');
const END = Buffer.from('ICCLEND1');
const FOOTER_BYTES = 40;
export const ROW = 6;
/** Marks every corrupt-shard message: the loader treats these as fatal, not as one skipped image. */
export const CORRUPT_SHARD = 'corrupt prepared shard';

export interface ShardRecord {
  payload: Buffer;
  width: number;
  height: number;
  label: number;
}

export interface ShardTable {
  /** records x ROW u32 (offset, length, width, height, label, crc) */
  rows: Uint32Array;
  /** hex input key written by the preparation */
  key: string;
  bytes: number;
}

/** Writes a shard atomically (temporary file, then rename), so a reader sees a whole shard or none. */
export async function writeShard(path: string, records: ShardRecord[], keyHex: string): Promise<number> {
  const rows = new Uint32Array(records.length * ROW);
  let offset = HEADER.length;
  records.forEach((r, k) => {
    rows.set([offset, r.payload.length, r.width, r.height, r.label, r.payload.length ? crc32(r.payload) : 0], k * ROW);
    offset += r.payload.length;
  });
  if (offset > 0xffffffff) throw new RangeError(`${path}: ${offset} bytes: expected a shard under 4 GiB (fewer records per shard)`);
  const table = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength);
  const footer = Buffer.alloc(FOOTER_BYTES);
  footer.writeUInt32LE(records.length, 0);
  footer.writeUInt32LE(crc32(table), 4);
  footer.writeBigUInt64LE(BigInt(offset), 8);
  Buffer.from(keyHex.padEnd(32, '0').slice(0, 32), 'hex').copy(footer, 16);
  END.copy(footer, 32);
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await openP(tmp, 'w');
  try {
    await fh.writev([HEADER, ...records.map((r) => r.payload), table, footer]);
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  return offset + table.length + FOOTER_BYTES;
}

const bad = (path: string, what: string, rebuild: string) => new DataFormatError(path, '', `${CORRUPT_SHARD} (${what}): ${rebuild}`);

/** Reads a shard's table; a missing end marker, a bad table CRC or a size that does not add up is one error naming the file. */
export async function readShardTable(path: string, rebuild: string): Promise<ShardTable> {
  const fh = await openP(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new DataFormatError(path, '', `${e.code === 'ENOENT' ? 'missing prepared shard' : e.message}: ${rebuild}`);
  });
  try {
    const { size } = await fh.stat();
    if (size < HEADER.length + FOOTER_BYTES) throw bad(path, `${size} bytes, truncated`, rebuild);
    const footer = Buffer.alloc(FOOTER_BYTES);
    await fh.read(footer, 0, FOOTER_BYTES, size - FOOTER_BYTES);
    if (!footer.subarray(32).equals(END)) throw bad(path, 'no end marker, truncated', rebuild);
    const n = footer.readUInt32LE(0);
    const tableOffset = Number(footer.readBigUInt64LE(8));
    if (tableOffset + n * ROW * 4 + FOOTER_BYTES !== size) throw bad(path, `${n} records do not fit its ${size} bytes`, rebuild);
    const table = Buffer.alloc(n * ROW * 4);
    await fh.read(table, 0, table.length, tableOffset);
    if (crc32(table) !== footer.readUInt32LE(4)) throw bad(path, 'table checksum mismatch', rebuild);
    const head = Buffer.alloc(HEADER.length);
    await fh.read(head, 0, head.length, 0);
    if (!head.equals(HEADER)) throw bad(path, 'no ICCLSHD1 header', rebuild);
    const rows = new Uint32Array(table.buffer, table.byteOffset, n * ROW).slice();
    return { rows, key: footer.subarray(16, 32).toString('hex'), bytes: size };
  } finally {
    await fh.close();
  }
}

/** Checks every payload's CRC (the preparation does this before it keeps a shard). */
export async function verifyShardPayloads(path: string, t: ShardTable, rebuild: string): Promise<void> {
  const fh = await openP(path, 'r');
  try {
    for (let k = 0; k < t.rows.length / ROW; k++) {
      const [off, len, , , , crc] = t.rows.subarray(k * ROW, (k + 1) * ROW);
      if (!len) continue;
      const b = Buffer.alloc(len);
      await fh.read(b, 0, len, off);
      if (crc32(b) !== crc) throw bad(path, `record ${k} checksum mismatch`, rebuild);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Positioned reads of records with one descriptor per shard, kept open (a worker reads many records of one
 * shard), into buffers that are reused: a record's buffer goes back to the free list once its user is done
 * with it (a raw 256 px record is 200-270 kB: a fresh one per image was a page-faulted allocation, then
 * garbage). Buffers in use at once = records read concurrently (a decode job's items).
 */
export class ShardReader {
  private readonly fds = new Map<number, Promise<number>>();
  private readonly free: Buffer[] = [];
  constructor(
    private readonly files: string[],
    private readonly rebuild: string,
  ) {}

  private fd(shard: number): Promise<number> {
    let p = this.fds.get(shard);
    if (!p) {
      p = new Promise<number>((res, rej) => open(this.files[shard], 'r', (e, fd) => (e ? rej(new DataFormatError(this.files[shard], '', `${e.message}: ${this.rebuild}`)) : res(fd))));
      p.catch(() => this.fds.delete(shard));
      this.fds.set(shard, p);
    }
    return p;
  }

  /** A free buffer of at least `length` bytes (a too small one is dropped: the list converges to the largest records). */
  private take(length: number): Buffer {
    const b = this.free.pop();
    return b && b.length >= length ? b : Buffer.allocUnsafeSlow(Math.max(length, Math.ceil(length * 1.25)));
  }

  /**
   * `use(payload)` on record `k` of `shard` at (offset, length), checked against its CRC first. The
   * payload is a view of a reused buffer: valid until `use`'s promise settles, not after.
   */
  async withRecord<T>(shard: number, k: number, offset: number, length: number, crc: number, use: (payload: Buffer) => T | Promise<T>): Promise<T> {
    const fd = await this.fd(shard);
    const buf = this.take(length);
    try {
      const b = buf.subarray(0, length);
      const got = await new Promise<number>((res, rej) => read(fd, b, 0, length, offset, (e, n) => (e ? rej(e) : res(n))));
      if (got !== length) throw bad(this.files[shard], `record ${k}: ${got} of ${length} bytes, truncated`, this.rebuild);
      if (crc32(b) !== crc) throw bad(this.files[shard], `record ${k} checksum mismatch`, this.rebuild);
      return await use(b);
    } finally {
      this.free.push(buf);
    }
  }

  close(): void {
    for (const p of this.fds.values()) p.then((fd) => close(fd, () => undefined), () => undefined);
    this.fds.clear();
  }
}
