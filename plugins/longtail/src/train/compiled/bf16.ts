import type { GraphBuilder } from './graph';
import { Program } from './program';
import { ATTR, type Attr, type NodeSpec } from './proto';

export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];

const DT_FLOAT = 1;
const DT_BFLOAT16 = 14;

/**
 * The ops that carry a step's arithmetic (convolutions and matrix products, forward and backward),
 * by the positions of their float inputs (the others are int32 shapes). Only these run in bfloat16:
 * batch norm, the loss, the optimizer and the variables stay float32.
 */
const HEAVY: Record<string, number[]> = {
  Conv2D: [0, 1],
  Conv2DBackpropInput: [1, 2],
  Conv2DBackpropFilter: [0, 2],
  DepthwiseConv2dNative: [0, 1],
  DepthwiseConv2dNativeBackpropInput: [1, 2],
  DepthwiseConv2dNativeBackpropFilter: [0, 2],
  MatMul: [0, 1],
  BatchMatMul: [0, 1],
  BatchMatMulV2: [0, 1],
};

const typeAttr = (name: string, dtype: number): Attr => ({ name, type: ATTR.TYPE, value: dtype });

function cast(name: string, input: string, from: number, to: number): NodeSpec {
  return { name, op: 'Cast', inputs: [input], attrs: [typeAttr('SrcT', from), typeAttr('DstT', to), { name: 'Truncate', type: ATTR.BOOL, value: false }] };
}

const isFloat = (n: NodeSpec): boolean => n.attrs.some((a) => a.name === 'T' && a.value === DT_FLOAT);

/**
 * `nodes` with every float32 heavy op computing in bfloat16: its float inputs Cast to bfloat16
 * (one Cast per distinct input, shared by its readers: a weight feeds Conv2D and
 * Conv2DBackpropInput), the op itself in bfloat16 under a new name, and a Cast back to float32
 * under the op's old name, so that every reader of it is unchanged. Returns a new list and how
 * many ops were rewritten; `nodes` is left as it was (the float32 graph it came from).
 */
export function toBf16(nodes: NodeSpec[]): { nodes: NodeSpec[]; rewritten: number } {
  const out: NodeSpec[] = [];
  const casts = new Map<string, string>();
  let rewritten = 0;
  const bf16Of = (ref: string): string => {
    let c = casts.get(ref);
    if (!c) {
      c = `bf16/in${casts.size}`;
      out.push(cast(c, ref, DT_FLOAT, DT_BFLOAT16));
      casts.set(ref, c);
    }
    return `${c}:0`;
  };
  for (const n of nodes) {
    const floats = HEAVY[n.op];
    if (!floats || !isFloat(n)) {
      out.push(n);
      continue;
    }
    const inner = `${n.name}/bf16`;
    const inputs = n.inputs.map((ref, i) => (floats.includes(i) ? bf16Of(ref) : ref));
    const attrs = n.attrs.map((a) => (a.name === 'T' ? typeAttr('T', DT_BFLOAT16) : a));
    out.push({ ...n, name: inner, inputs, attrs }, cast(n.name, `${inner}:0`, DT_BFLOAT16, DT_FLOAT));
    rewritten++;
  }
  return { nodes: out, rewritten };
}

/** The program of `fp32` (built from `graph`) with its heavy ops in bfloat16: same feeds, same outputs, same XLA use. */
export function bf16Program(graph: GraphBuilder, fp32: Program): Program {
  return new Program({ nodes: toBf16(graph.nodes).nodes, feeds: graph.feeds }, fp32.feedKeys, fp32.outputs, fp32.xla);
}

/** Why this CPU cannot run bfloat16 arithmetic natively (no avx512_bf16 nor amx_bf16 flag), or null. */
export function bf16Unsupported(flags: string[]): string | null {
  if (flags.includes('avx512_bf16') || flags.includes('amx_bf16')) return null;
  return 'this CPU has no bfloat16 instructions (neither avx512_bf16 nor amx_bf16 among the flags of /proc/cpuinfo)';
}
