/**
 * The few TensorFlow protocol-buffer messages a compiled step needs (GraphDef, NodeDef, AttrValue,
 * TensorProto, SavedModel), written by hand: a dozen fields of wire format do not justify a
 * protobuf library and generated code. Field numbers are those of tensorflow/core/framework/*.proto
 * and tensorflow/core/protobuf/saved_model.proto / meta_graph.proto.
 */

/** Bytes of one message under construction. */
class Writer {
  private readonly parts: Uint8Array[] = [];

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.parts.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(b);
    return this;
  }

  bytes(field: number, v: Uint8Array | string): this {
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : v;
    this.key(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  /** A packed repeated scalar field (varints or 32-bit floats). */
  packed(field: number, vs: number[], asFloat = false): this {
    const w = new Writer();
    for (const v of vs) {
      if (asFloat) {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setFloat32(0, v, true);
        w.parts.push(b);
      } else {
        w.varint(v);
      }
    }
    return this.bytes(field, w.done());
  }

  done(): Uint8Array {
    const n = this.parts.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** An attribute value as tfjs-node hands it to the binding (type codes are TF_AttrType). */
export interface Attr {
  name: string;
  type: number;
  value: unknown;
}
export const ATTR = { STRING: 0, INT: 1, FLOAT: 2, BOOL: 3, TYPE: 4, SHAPE: 5 } as const;

export function shapeProto(dims: number[]): Uint8Array {
  const w = new Writer();
  for (const d of dims) w.bytes(2, new Writer().int(1, d).done());
  return w.done();
}

/** AttrValue: scalar fields 2-7, ListValue (field 1) for arrays. */
function attrValue(a: Attr): Uint8Array {
  const w = new Writer();
  const v = a.value;
  if (a.type === ATTR.SHAPE) return w.bytes(7, shapeProto(v as number[])).done();
  if (Array.isArray(v)) {
    const l = new Writer();
    if (a.type === ATTR.STRING) for (const s of v) l.bytes(2, String(s));
    else if (a.type === ATTR.INT) l.packed(3, v as number[]);
    else if (a.type === ATTR.FLOAT) l.packed(4, v as number[], true);
    else if (a.type === ATTR.BOOL) l.packed(5, (v as boolean[]).map(Number));
    else if (a.type === ATTR.TYPE) l.packed(6, v as number[]);
    else throw new Error(`compiled step: attribute ${a.name} has unsupported list type ${a.type}`);
    return w.bytes(1, l.done()).done();
  }
  if (a.type === ATTR.STRING) return w.bytes(2, String(v)).done();
  if (a.type === ATTR.INT) return w.int(3, v as number).done();
  if (a.type === ATTR.FLOAT) return w.float(4, v as number).done();
  if (a.type === ATTR.BOOL) return w.int(5, v ? 1 : 0).done();
  if (a.type === ATTR.TYPE) return w.int(6, v as number).done();
  throw new Error(`compiled step: attribute ${a.name} has unsupported type ${a.type}`);
}

/** A TensorProto of `dtype` (TF_DataType code, same as the DataType enum) from raw little-endian bytes. */
export function tensorProto(dtype: number, dims: number[], content: Uint8Array): Uint8Array {
  return new Writer().int(1, dtype).bytes(2, shapeProto(dims)).bytes(4, content).done();
}

export interface NodeSpec {
  name: string;
  op: string;
  inputs: string[];
  attrs: Attr[];
  /** extra attributes already encoded as AttrValue bytes (Const's value) */
  rawAttrs?: { name: string; value: Uint8Array }[];
}

function nodeDef(n: NodeSpec): Uint8Array {
  const w = new Writer().bytes(1, n.name).bytes(2, n.op);
  for (const i of n.inputs) w.bytes(3, i);
  for (const a of n.attrs) w.bytes(5, new Writer().bytes(1, a.name).bytes(2, attrValue(a)).done());
  for (const a of n.rawAttrs ?? []) w.bytes(5, new Writer().bytes(1, a.name).bytes(2, a.value).done());
  return w.done();
}

export function tensorAttr(dtype: number, dims: number[], content: Uint8Array): Uint8Array {
  return new Writer().bytes(8, tensorProto(dtype, dims, content)).done();
}

/** GraphDef producer version: libtensorflow 2.18's TF_GRAPH_DEF_VERSION (core/public/version.h). */
const GRAPH_PRODUCER = 1994;

export function graphDef(nodes: NodeSpec[]): Uint8Array {
  const w = new Writer();
  for (const n of nodes) w.bytes(1, nodeDef(n));
  w.bytes(4, new Writer().int(1, GRAPH_PRODUCER).done());
  return w.done();
}

/** A SavedModel holding one MetaGraphDef tagged `tag` with `graph` and no variables. */
export function savedModel(graph: Uint8Array, tag: string): Uint8Array {
  const meta = new Writer().bytes(1, new Writer().bytes(4, tag).done()).bytes(2, graph).done();
  return new Writer().int(1, 1).bytes(2, meta).done();
}
