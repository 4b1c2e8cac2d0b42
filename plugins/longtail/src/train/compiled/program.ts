import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Tensor } from '../../models/tf';
import { GraphBuilder } from './graph';
import { graphDef, savedModel } from './proto';
import { nodeBackend, tensorId } from './trace';
import { markForXla } from './xla';

/** What one fetched output of a program is, for the caller to route it. */
export type OutputRole = { kind: 'loss' } | { kind: 'term'; key: string } | { kind: 'var' | 'slot' | 'grad' | 'after'; key: string };

interface SessionBinding {
  loadSavedModel(dir: string, tags: string): number;
  runSavedModel(id: number, ids: number[], inputs: string, outputs: string): { id: number; shape: number[]; dtype: number }[];
  deleteSavedModel(id: number): void;
}

let serial = 0;

/**
 * One compiled graph, loaded as a session of libtensorflow (the binding's SavedModel entry points:
 * TF_LoadSessionFromSavedModel and TF_SessionRun, which take and return the eager tensors' buffers
 * without copies on the CPU). Grappler optimises the graph once, when the session first runs it;
 * with `xla`, the session also compiles the whole graph with XLA then (markForXla).
 */
export class Program {
  private readonly id: number;
  private readonly feedNames: string;

  constructor(
    /** the graph's nodes and its placeholders in feed order (a GraphBuilder, or a rewrite of one) */
    graph: Pick<GraphBuilder, 'nodes' | 'feeds'>,
    /** the key of each feed, in the graph's feed order */
    readonly feedKeys: string[],
    readonly outputs: { role: OutputRole; fetch: string }[],
    /** every op marked for one XLA cluster (the GPU's compiled step) */
    readonly xla = false,
  ) {
    const nodes = xla ? markForXla(graph.nodes) : graph.nodes;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iccl-compiled-${process.pid}-${serial++}-`));
    try {
      fs.writeFileSync(path.join(dir, 'saved_model.pb'), savedModel(graphDef(nodes), 'serve'));
      this.id = binding().loadSavedModel(dir, 'serve');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    this.feedNames = graph.feeds.map((f) => `${f.name}:0`).join(',');
  }

  /** Runs the graph on `feeds` (by key) and returns the outputs whose role `want` accepts, as tfjs tensors. */
  run(feeds: Map<string, Tensor>, want: (r: OutputRole) => boolean): { role: OutputRole; tensor: Tensor }[] {
    const ids = this.feedKeys.map((k) => {
      const t = feeds.get(k);
      if (!t) throw new Error(`compiled step: no value for input ${k}`);
      return tensorId(t);
    });
    const picked = this.outputs.filter((o) => want(o.role));
    const infos = binding().runSavedModel(this.id, ids, this.feedNames, picked.map((o) => o.fetch).join(','));
    const backend = nodeBackend();
    return picked.map((o, i) => ({ role: o.role, tensor: backend.createOutputTensor(infos[i]) }));
  }

  dispose(): void {
    binding().deleteSavedModel(this.id);
  }
}

function binding(): SessionBinding {
  return nodeBackend().binding as unknown as SessionBinding;
}

export interface SgdSpec {
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * Appends SgdMomentum.apply's arithmetic for one variable, op for op (sgd.ts): d = g + w * wd;
 * buf = buf * mu + d; w = w - lr * (nesterov ? d + buf * mu : buf). Returns refs of the new w and buf.
 */
export function emitSgd(g: GraphBuilder, o: SgdSpec, refs: { w: string; grad: string; buf: string | null; lr: string; wd: string; mu: string }): { w: string; buf: string | null } {
  let d = o.weightDecay ? g.op('Add', [refs.grad, g.op('Mul', [refs.w, refs.wd])]) : refs.grad;
  let buf: string | null = null;
  if (o.momentum) {
    if (!refs.buf) throw new Error('compiled step: a momentum buffer is missing (trace after the first step)');
    buf = g.op('Add', [g.op('Mul', [refs.buf, refs.mu]), d]);
    d = o.nesterov ? g.op('Add', [d, g.op('Mul', [buf, refs.mu])]) : buf;
  }
  return { w: g.op('Sub', [refs.w, g.op('Mul', [d, refs.lr])]), buf };
}
