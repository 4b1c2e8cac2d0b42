import { tfx, type NamedTensorMap, type Scalar, type Tensor, type Variable } from './tf';

/** The parts of tfjs's engine and tape that a gradient computation needs (tfjs-core 4.x). */
export interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, Tensor>;
  outputs: Tensor[];
  saved?: Tensor[];
  gradient?: (dys: (Tensor | null)[]) => Record<string, () => Tensor>;
}
export interface Engine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number; kernelDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends Tensor>(nameOrFn: string | (() => T), fn?: () => T): T;
}

export function tfEngine(): Engine {
  return tfx().engine() as unknown as Engine;
}

/** The tape nodes on a path from one of `xs` to `y`, inputs pruned to those that depend on `xs`. */
export function nodesFromXsToY(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const reachesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      reachesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const leadsToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      leadsToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  return tape
    .filter((n) => reachesFromX.has(n.id) && leadsToY.has(n.id))
    .map((n) => ({ ...n, inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id))) }));
}

/**
 * Walks `tape` backwards from dL/dy = `seed` (default 1; the caller keeps its seed: recompute.ts
 * seeds a segment's walk with the dy of the walk outside) and returns the gradient of each of `xs`.
 * Unlike tfjs's own walk, which keeps every intermediate gradient and every node's saved activations until the end,
 * this frees a node's output gradients and saved tensors as soon as the node is done, as PyTorch's
 * autograd does: peak memory is the saved activations still ahead plus the gradient frontier, not
 * the sum of all of them. The arithmetic (order of nodes, accumulation by addition) is tfjs's.
 */
export function backprop(tape: TapeNode[], xs: Tensor[], y: Tensor, engine: Engine, seed?: Tensor): (Tensor | undefined)[] {
  const tf = tfx();
  const grads = new Map<number, Tensor>([[y.id, seed ? seed.clone() : tf.onesLike(y)]]);
  const xIds = new Set(xs.map((x) => x.id));
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (!node.gradient) throw new Error(`cannot compute gradient: no gradient function for ${node.kernelName}`);
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    const inputGrads = node.gradient(dys);
    for (const [name, x] of Object.entries(node.inputs)) {
      const fn = inputGrads[name];
      if (!fn) throw new Error(`cannot backprop through input ${name} of ${node.kernelName}`);
      let dx = engine.tidy(() => fn());
      // A gradient function may hand back a tensor it was given (dy, a saved tensor); the map must
      // own its own reference, since those are released below.
      if (dys.includes(dx) || node.saved?.includes(dx) || Object.values(node.inputs).includes(dx)) dx = dx.clone();
      const prev = grads.get(x.id);
      if (prev) {
        grads.set(x.id, tf.add(prev, dx));
        prev.dispose();
        dx.dispose();
      } else {
        grads.set(x.id, dx);
      }
    }
    for (const o of node.outputs) {
      if (xIds.has(o.id)) continue;
      grads.get(o.id)?.dispose();
      grads.delete(o.id);
    }
    for (const s of node.saved ?? []) s.dispose();
  }
  return xs.map((x) => grads.get(x.id));
}

/**
 * `tf.variableGrads` with memory freed as the backward pass goes (see `backprop`): the value of
 * `f` and the gradient of every variable in `vars` that `f` depends on, by variable name.
 */
export function leanVariableGrads(f: () => Scalar, vars: Variable[]): { value: Scalar; grads: NamedTensorMap } {
  const engine = tfEngine();
  if (engine.state.gradientDepth !== 0) throw new Error('leanVariableGrads: nested gradient computations are not supported');
  const trainable = vars.filter((v) => v.trainable);
  if (trainable.length === 0) throw new Error('leanVariableGrads: none of the variables is trainable');
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (y.rank !== 0) throw new Error(`leanVariableGrads: f must return a scalar, got rank ${y.rank}`);
  const tape = engine.state.activeTape ?? [];
  try {
    let gs: (Tensor | undefined)[] = [];
    // tidy frees everything made inside it except what it returns (moved to the caller's scope).
    engine.tidy('backward', () => {
      gs = backprop(nodesFromXsToY(tape, trainable, y), trainable, y, engine);
      return gs.filter((g): g is Tensor => g !== undefined) as unknown as Tensor;
    });
    const out: NamedTensorMap = {};
    trainable.forEach((v, i) => {
      if (gs[i]) out[v.name] = gs[i]!;
    });
    if (Object.keys(out).length === 0) throw new Error('leanVariableGrads: no variable is connected to the value of f');
    return { value: y, grads: out };
  } finally {
    for (const node of tape) for (const s of node.saved ?? []) s.dispose();
    engine.state.activeTape = null;
  }
}
