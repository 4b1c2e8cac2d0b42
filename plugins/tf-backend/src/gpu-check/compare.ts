/**
 * The GPU self-check's correctness half: the loss and the gradients of one step on fixed inputs,
 * computed by two backends (each in its own process, since a process holds one backend), must agree.
 */
import * as fs from 'node:fs';

export interface NamedValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** A step's loss and the gradient of every trained variable, as one backend computed them. */
export interface StepValues {
  /** Who computed it, e.g. "tensorflow (gpu), TF 2.18.1". */
  backend: string;
  loss: number;
  grads: NamedValues[];
}

/**
 * |loss_a - loss_b| <= lossRel * |loss_a| + abs, and per gradient tensor
 * ||g_a - g_b||_2 <= gradRel * ||g_a||_2 + abs * sqrt(n): relative to the size of what is compared,
 * with a floor for tensors whose gradient is (nearly) zero.
 */
export interface Tolerance {
  lossRel: number;
  gradRel: number;
  abs: number;
}

/**
 * GPU against CPU in float32 with TF32 off (the check sets NVIDIA_TF32_OVERRIDE=0): cuDNN and the CPU
 * kernels sum in different orders, which through 50 layers and batch norm moves gradients by about
 * 1e-5 relative; 1e-3 leaves room for that and still catches a wrong kernel, which is off by O(1).
 */
export const GPU_VS_CPU: Tolerance = { lossRel: 1e-4, gradRel: 1e-3, abs: 1e-6 };

export interface Comparison {
  ok: boolean;
  lossDiff: number;
  /** The gradient tensor furthest from its reference, relative to the reference's norm. */
  worst: { name: string; relDiff: number } | null;
  /** One line per disagreement. */
  problems: string[];
}

function norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

function diffNorm(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Compares `got` against `ref`; every disagreement (value, shape, missing, non-finite) is a problem line. */
export function compareSteps(ref: StepValues, got: StepValues, tol: Tolerance = GPU_VS_CPU): Comparison {
  const problems: string[] = [];
  const lossDiff = Math.abs(ref.loss - got.loss);
  if (!Number.isFinite(ref.loss) || !Number.isFinite(got.loss)) problems.push(`loss is not finite (${ref.loss} vs ${got.loss})`);
  else if (lossDiff > tol.lossRel * Math.abs(ref.loss) + tol.abs) problems.push(`loss ${got.loss} vs ${ref.loss}: differs by ${lossDiff.toExponential(2)}`);
  const theirs = new Map(got.grads.map((g) => [g.name, g]));
  let worst: Comparison['worst'] = null;
  for (const r of ref.grads) {
    const g = theirs.get(r.name);
    theirs.delete(r.name);
    if (!g) {
      problems.push(`gradient ${r.name}: missing`);
      continue;
    }
    if (r.shape.join('x') !== g.shape.join('x') || r.values.length !== g.values.length) {
      problems.push(`gradient ${r.name}: shape [${g.shape}] vs [${r.shape}]`);
      continue;
    }
    const d = diffNorm(r.values, g.values);
    const n = norm(r.values);
    if (!Number.isFinite(d) || !Number.isFinite(n)) {
      problems.push(`gradient ${r.name}: not finite`);
      continue;
    }
    const rel = n > 0 ? d / n : d > 0 ? Infinity : 0;
    if (!worst || rel > worst.relDiff) worst = { name: r.name, relDiff: rel };
    if (d > tol.gradRel * n + tol.abs * Math.sqrt(r.values.length)) {
      problems.push(n > 0 ? `gradient ${r.name}: differs by ${rel.toExponential(2)} of its norm ${n.toExponential(2)}` : `gradient ${r.name}: is zero in the reference, off by ${d.toExponential(2)}`);
    }
  }
  for (const name of theirs.keys()) problems.push(`gradient ${name}: not in the reference`);
  return { ok: problems.length === 0, lossDiff, worst, problems };
}

/** Writes `v` as FILE (JSON: backend, loss, names and shapes) and FILE.bin (the float32 values, in order). */
export function writeStepValues(file: string, v: StepValues): void {
  const total = v.grads.reduce((n, g) => n + g.values.length, 0);
  const bin = new Float32Array(total);
  let at = 0;
  for (const g of v.grads) {
    bin.set(g.values, at);
    at += g.values.length;
  }
  fs.writeFileSync(`${file}.bin`, Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength));
  fs.writeFileSync(file, JSON.stringify({ backend: v.backend, loss: v.loss, grads: v.grads.map((g) => ({ name: g.name, shape: g.shape })) }) + '\n');
}

export function readStepValues(file: string): StepValues {
  const head = JSON.parse(fs.readFileSync(file, 'utf8')) as { backend: string; loss: number; grads: { name: string; shape: number[] }[] };
  const raw = fs.readFileSync(`${file}.bin`);
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  let at = 0;
  const grads = head.grads.map((g) => {
    const n = g.shape.reduce((a, b) => a * b, 1);
    const values = all.subarray(at, at + n);
    at += n;
    return { ...g, values };
  });
  if (at !== all.length) throw new Error(`${file}.bin holds ${all.length} values, the header names ${at}`);
  return { backend: head.backend, loss: head.loss, grads };
}
