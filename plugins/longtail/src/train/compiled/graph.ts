import { ATTR, type Attr, type NodeSpec, tensorAttr } from './proto';
import type { Trace } from './trace';

const DT_FLOAT = 1;
/**
 * Type attributes tfjs-node leaves to eager execution to infer from the inputs (it sends ExpandDims
 * and Where with none), which a graph must state: attribute -> the input whose type it is.
 */
const INFERRED: Record<string, [string, number][]> = { ExpandDims: [['T', 0], ['Tdim', 1]], Where: [['T', 0]] };
const typeAttr = (name: string, dtype: number): Attr => ({ name, type: ATTR.TYPE, value: dtype });

/**
 * A GraphDef under construction from a trace: the traced ops keep their order and attributes;
 * every tensor made before the traced region becomes a Placeholder (the step's inputs: batch,
 * variables, momentum buffers, learning rate), every tensor uploaded inside it a Const.
 */
export class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  private readonly refs = new Map<number, string>();
  /** TF_DataType of each traced tensor id */
  private readonly types = new Map<number, number>();
  /** placeholders in feed order: the binding tensor id each was traced from */
  readonly feeds: { name: string; tracedId: number }[] = [];
  readonly fetches: string[] = [];
  private n = 0;

  /** Placeholders for `inputs` (traced ids, in the order they will be fed). */
  constructor(
    private readonly trace: Trace,
    inputs: number[],
  ) {
    for (const id of inputs) this.placeholder(id);
    for (const [id, ext] of trace.externals) {
      if (this.refs.has(id)) continue;
      // Made before the step but not one of its declared inputs: a constant of the step (a cached scalar).
      if (ext.dtype < 0) throw new Error(`compiled step: input tensor ${id} of the step has no known type`);
      const values = trace.captured.get(id);
      if (!values) throw new Error(`compiled step: the value of input tensor ${id} was not captured`);
      this.constant(id, ext.dtype, ext.shape, values);
    }
    for (const [id, c] of trace.consts) this.constant(id, c.dtype, c.shape, c.values);
    for (const op of trace.ops) {
      const name = `n${this.n++}`;
      const inputs = op.inputs.map((i) => {
        const r = this.refs.get(i);
        if (!r) throw new Error(`compiled step: ${op.op} reads tensor ${i}, which the trace never made`);
        return r;
      });
      this.nodes.push({ name, op: op.op, inputs, attrs: this.withInferred(op.op, op.attrs, op.inputs) });
      op.outputs.forEach((o, k) => {
        this.refs.set(o, `${name}:${k}`);
        this.types.set(o, op.outputTypes[k]);
      });
    }
  }

  private withInferred(op: string, attrs: Attr[], inputs: number[]): Attr[] {
    const missing = (INFERRED[op] ?? []).filter(([name]) => !attrs.some((a) => a.name === name));
    return [...attrs, ...missing.map(([name, i]) => typeAttr(name, this.types.get(inputs[i]) ?? -1))];
  }

  private placeholder(id: number): void {
    const ext = this.trace.externals.get(id);
    if (!ext || ext.dtype < 0) throw new Error(`compiled step: declared input ${id} is not used by the traced step`);
    this.addPlaceholder(id, ext.dtype, ext.shape);
  }

  /** A placeholder the trace need not use (a variable only the optimizer reads). */
  addPlaceholder(id: number, dtype: number, shape: number[]): string {
    const name = `in${this.feeds.length}`;
    this.nodes.push({ name, op: 'Placeholder', inputs: [], attrs: [typeAttr('dtype', dtype), { name: 'shape', type: ATTR.SHAPE, value: shape }] });
    this.feeds.push({ name, tracedId: id });
    this.refs.set(id, `${name}:0`);
    this.types.set(id, dtype);
    return `${name}:0`;
  }

  has(id: number): boolean {
    return this.refs.has(id);
  }

  private constant(id: number, dtype: number, shape: number[], values: ArrayBufferView): void {
    const name = `c${this.n++}`;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    this.nodes.push({ name, op: 'Const', inputs: [], attrs: [typeAttr('dtype', dtype)], rawAttrs: [{ name: 'value', value: tensorAttr(dtype, shape, bytes) }] });
    this.refs.set(id, `${name}:0`);
    this.types.set(id, dtype);
  }

  /** A float32 scalar constant (the optimizer's factors, as tf.scalar makes them eagerly). */
  constF(v: number): string {
    const name = `c${this.n++}`;
    const bytes = new Uint8Array(Float32Array.of(v).buffer);
    this.nodes.push({ name, op: 'Const', inputs: [], attrs: [typeAttr('dtype', DT_FLOAT)], rawAttrs: [{ name: 'value', value: tensorAttr(DT_FLOAT, [], bytes) }] });
    return `${name}:0`;
  }

  ref(id: number): string {
    const r = this.refs.get(id);
    if (!r) throw new Error(`compiled step: tensor ${id} is not in the graph`);
    return r;
  }

  /** A float32 op on refs, returning its output ref. */
  op(op: string, inputs: string[]): string {
    const name = `n${this.n++}`;
    this.nodes.push({ name, op, inputs, attrs: [typeAttr('T', DT_FLOAT)] });
    return `${name}:0`;
  }

  /** Marks `ref` as the next output; returns the fetch name. */
  fetch(ref: string, dtype = DT_FLOAT): string {
    const name = `out${this.fetches.length}`;
    this.nodes.push({ name, op: 'Identity', inputs: [ref], attrs: [typeAttr('T', dtype)] });
    this.fetches.push(`${name}:0`);
    return `${name}:0`;
  }
}
