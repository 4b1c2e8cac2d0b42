import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { maskedCrc32c } from './crc32c';
import { concat, fBytes, fDouble, fFloat, fMessage, fString, fVarint, message, type Field } from './proto';

/**
 * Event protos (tensorflow/core/util/event.proto): Event{wall_time=1 double, step=2 int64,
 * file_version=3, summary=5}; Summary{value=1}; Summary.Value{tag=1, simple_value=2, tensor=8,
 * metadata=9}; SummaryMetadata{plugin_data=1 {plugin_name=1, content=2}}.
 */
export function eventBytes(wallTimeSec: number, step: number, body: Field): Uint8Array {
  return message(fDouble(1, wallTimeSec), fVarint(2, step), body);
}

export const fileVersionBody = (): Field => fString(3, 'brain.Event:2');

export function scalarBody(tag: string, value: number): Field {
  return fMessage(5, fMessage(1, fString(1, tag), fFloat(2, value)));
}

/** TensorProto{dtype: DT_FLOAT, tensor_shape: {dim: [{size: 0}]}}: the empty tensor plugin summaries carry. */
const EMPTY_TENSOR = Uint8Array.from([0x08, 0x01, 0x12, 0x02, 0x12, 0x00]);

/** A summary value carrying only plugin data (how the HParams plugin's summaries are written). */
export function pluginBody(tag: string, pluginName: string, content: Uint8Array): Field {
  const metadata = fMessage(9, fMessage(1, fString(1, pluginName), fBytes(2, content)));
  return fMessage(5, fMessage(1, fString(1, tag), fBytes(8, EMPTY_TENSOR), metadata));
}

/** TFRecord framing: uint64 length, masked CRC32C of the length, data, masked CRC32C of the data (little-endian). */
export function tfRecord(data: Uint8Array): Uint8Array {
  const head = new Uint8Array(12);
  const dv = new DataView(head.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(head.subarray(0, 8)), true);
  const tail = new Uint8Array(4);
  new DataView(tail.buffer).setUint32(0, maskedCrc32c(data), true);
  return concat([head, data, tail]);
}

let fileCounter = 0;

/** One events.out.tfevents.* file in `dir`, written record by record (each write is whole, so a reader never sees half a record). */
export class EventFileWriter {
  readonly file: string;
  private fd: number | null;

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(
      dir,
      `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}.${process.pid}.${fileCounter++}`,
    );
    this.fd = fs.openSync(this.file, 'a');
    this.write(0, fileVersionBody());
  }

  write(step: number, body: Field, wallTimeSec = Date.now() / 1000): void {
    if (this.fd === null) throw new Error(`tensorboard: ${this.file} is closed`);
    fs.writeSync(this.fd, tfRecord(eventBytes(wallTimeSec, step, body)));
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
