import { tfx, type Tensor } from '../../models/tf';
import type { Attr } from './proto';

/** One TensorFlow op as the eager step ran it: tfjs-node's binding call, by tensor ids. */
export interface TracedOp {
  op: string;
  attrs: Attr[];
  inputs: number[];
  outputs: number[];
  /** TF_DataType of each output */
  outputTypes: number[];
}

/** A tensor uploaded from JavaScript during the traced region (a constant of the step). */
export interface TracedConst {
  dtype: number;
  shape: number[];
  values: ArrayBufferView;
}

export interface Trace {
  ops: TracedOp[];
  consts: Map<number, TracedConst>;
  /** tensors used by the region but made before it: id -> shape and TF_DataType */
  externals: Map<number, { shape: number[]; dtype: number }>;
  /** values of the undeclared ones, read when first used (they may be freed inside the region) */
  captured: Map<number, ArrayBufferView>;
  /** values read back to JavaScript inside the region (a data-dependent step cannot be compiled) */
  reads: number;
  /** names of variables the region read without their being declared inputs (they would be frozen) */
  frozenVariables: string[];
}

interface Binding {
  executeOp(name: string, attrs: Attr[], ids: number[], n: number): { id: number; shape: number[]; dtype: number }[];
  createTensor(shape: number[], dtype: number, values: ArrayBufferView): number;
  tensorDataSync(id: number): ArrayBufferView;
}
export interface NodeBackend {
  binding: Binding;
  tensorMap: { get(dataId: object): { id: number; shape: number[]; dtype: number; values: unknown } };
  getInputTensorIds(ts: Tensor[]): number[];
  createOutputTensor(info: { id: number; shape: number[]; dtype: number }): Tensor;
}

export function nodeBackend(): NodeBackend {
  const tf = tfx();
  if (tf.getBackend() !== 'tensorflow') throw new Error(`compiled step: needs the native TensorFlow backend, running on ${tf.getBackend()}`);
  return tf.backend() as unknown as NodeBackend;
}

/** The binding's tensor id of `t`, uploading values still held in JavaScript first. */
export function tensorId(t: Tensor): number {
  return nodeBackend().getInputTensorIds([t])[0];
}

function isVariable(t: Tensor): t is Tensor & { name: string } {
  return typeof (t as { assign?: unknown }).assign === 'function' && 'trainable' in t;
}

function copyAttrs(attrs: Attr[]): Attr[] {
  return attrs.map((a) => ({ name: a.name, type: a.type, value: Array.isArray(a.value) ? [...a.value] : a.value }));
}

/**
 * Runs `f` eagerly (its results are real) while recording every op it sends to libtensorflow.
 * `declared`: the ids of its inputs; the other tensors made before it are its constants. `readable`:
 * inputs whose reads are not counted (a method's draws, which tfjs-node's GatherV2 reads to check
 * the indices' bounds: values the method made in JavaScript, so its ops cannot depend on the read).
 * The binding object's methods cannot be replaced (N-API properties are read-only), so the backend
 * gets a recording stand-in for the duration and its own binding back afterwards.
 */
export function traceOps<T>(f: () => T, declared: Set<number>, readable: Set<number> = new Set()): { result: T; trace: Trace } {
  const backend = nodeBackend();
  const orig = backend.binding;
  const trace: Trace = { ops: [], consts: new Map(), externals: new Map(), captured: new Map(), reads: 0, frozenVariables: [] };
  const made = new Set<number>();
  // Inherited read-only properties cannot be assigned over, only defined (Object.create's second argument).
  const own: Partial<Binding> = {};
  own.executeOp = (name, attrs, ids, n) => {
    for (const id of ids) if (!made.has(id) && !trace.externals.has(id)) trace.externals.set(id, { shape: [], dtype: -1 });
    const out = orig.executeOp(name, attrs, ids, n);
    trace.ops.push({ op: name, attrs: copyAttrs(attrs), inputs: [...ids], outputs: out.map((o) => o.id), outputTypes: out.map((o) => o.dtype) });
    for (const o of out) made.add(o.id);
    return out;
  };
  own.createTensor = (shape, dtype, values) => {
    const id = orig.createTensor(shape, dtype, values);
    const v = values as unknown as { slice(): ArrayBufferView };
    trace.consts.set(id, { dtype, shape: [...shape], values: v.slice() });
    made.add(id);
    return id;
  };
  own.tensorDataSync = (id) => {
    if (!readable.has(id)) trace.reads++;
    return orig.tensorDataSync(id);
  };
  const rec = Object.create(orig, Object.fromEntries(Object.entries(own).map(([k, value]) => [k, { value }]))) as Binding;
  const ownIds = Object.getOwnPropertyDescriptor(backend, 'getInputTensorIds');
  // Shapes and types of inputs made before the region: only the tfjs tensors carry them.
  backend.getInputTensorIds = (ts: Tensor[]) => {
    const ids = Object.getPrototypeOf(backend).getInputTensorIds.call(backend, ts) as number[];
    ts.forEach((t, i) => {
      // A variable that is no input would be frozen, whether uploaded before the region or in it.
      if (isVariable(t) && !declared.has(ids[i]) && !trace.frozenVariables.includes(t.name)) trace.frozenVariables.push(t.name);
      if (!made.has(ids[i])) {
        const info = backend.tensorMap.get(t.dataId);
        trace.externals.set(ids[i], { shape: [...t.shape], dtype: info.dtype });
        if (!declared.has(ids[i]) && !trace.captured.has(ids[i])) trace.captured.set(ids[i], orig.tensorDataSync(ids[i]));
      }
    });
    return ids;
  };
  backend.binding = rec;
  try {
    return { result: f(), trace };
  } finally {
    backend.binding = orig;
    if (ownIds) Object.defineProperty(backend, 'getInputTensorIds', ownIds);
    else delete (backend as Partial<NodeBackend>).getInputTensorIds;
  }
}
