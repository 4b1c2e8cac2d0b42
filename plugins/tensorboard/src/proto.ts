/**
 * The little of the protobuf wire format the event files need: varints, doubles, floats, strings and
 * embedded messages, written field by field (a message is the concatenation of its fields).
 */
const enc = new TextEncoder();

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // negative int64: two's complement, ten bytes
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

const key = (field: number, wire: number) => varint((field << 3) | wire);

export type Field = Uint8Array;

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const fVarint = (field: number, v: number | bigint): Field =>
  Uint8Array.from([...key(field, 0), ...varint(v)]);

export function fDouble(field: number, v: number): Field {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return Uint8Array.from([...key(field, 1), ...b]);
}

export function fFloat(field: number, v: number): Field {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return Uint8Array.from([...key(field, 5), ...b]);
}

export const fBytes = (field: number, v: Uint8Array): Field =>
  concat([Uint8Array.from([...key(field, 2), ...varint(v.length)]), v]);
export const fString = (field: number, s: string): Field => fBytes(field, enc.encode(s));
export const fMessage = (field: number, ...fields: Field[]): Field => fBytes(field, concat(fields));
export const message = (...fields: Field[]): Uint8Array => concat(fields);
