import * as fs from 'node:fs';
import * as path from 'node:path';
import { tfx, type Tensor } from './tf';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/**
 * Saves named tensors in the TensorFlow.js weights format: `model.json` with a `weightsManifest`
 * (readable by tf.io.decodeWeights / loadWeights) plus one `weights.bin`, and our own metadata.
 * Written into a temporary folder and renamed into place, so a crash never leaves a half checkpoint.
 */
export async function saveTensors(dir: string, tensors: { name: string; tensor: Tensor }[], metadata: Record<string, unknown> = {}): Promise<void> {
  const tf = tfx();
  // Encoded by hand (same layout as tf.io.encodeWeights: little-endian values back to back) because
  // encodeWeights type-checks arrays with instanceof, which fails across realms (e.g. under jest).
  const specs: WeightSpec[] = [];
  const chunks: Buffer[] = [];
  for (const { name, tensor } of tensors) {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') throw new Error(`saveTensors: ${name} has dtype ${tensor.dtype}, expected float32 or int32`);
    const values = tensor.dataSync();
    chunks.push(Buffer.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)));
    specs.push({ name, shape: tensor.shape, dtype: tensor.dtype });
  }
  const data = Buffer.concat(chunks);
  const parent = path.dirname(path.resolve(dir));
  await fs.promises.mkdir(parent, { recursive: true });
  const tmp = `${path.resolve(dir)}.tmp-${process.pid}-${Date.now()}`;
  const modelJson = {
    format: 'iccl-weights',
    generatedBy: `TensorFlow.js ${tf.version.tfjs}`,
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    userDefinedMetadata: metadata,
  };
  try {
    await fs.promises.mkdir(tmp, { recursive: true });
    await fs.promises.writeFile(path.join(tmp, 'weights.bin'), data);
    await fs.promises.writeFile(path.join(tmp, 'model.json'), JSON.stringify(modelJson));
  } catch (e) {
    // A full disk (or any failed write) leaves the previous folder untouched and no partial copy behind.
    await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(writeFailure(dir, data.byteLength, e));
  }
  // Replace atomically: move the old folder aside, move the new one in, then drop the old one.
  const old = `${path.resolve(dir)}.old-${process.pid}-${Date.now()}`;
  const had = fs.existsSync(dir);
  if (had) await fs.promises.rename(dir, old);
  await fs.promises.rename(tmp, dir);
  if (had) await fs.promises.rm(old, { recursive: true, force: true });
}

export interface LoadedTensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, unknown>;
}

/** Reads what `saveTensors` wrote. The caller owns (and must dispose) the tensors. */
export async function loadTensors(dir: string): Promise<LoadedTensors> {
  const tf = tfx();
  const file = path.join(dir, 'model.json');
  let json: {
    weightsManifest?: { paths: string[]; weights: WeightSpec[] }[];
    userDefinedMetadata?: Record<string, unknown>;
  };
  try {
    json = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable weights file (${(e as Error).message})`);
  }
  const tensors = new Map<string, Tensor>();
  for (const group of json.weightsManifest ?? []) {
    const buffers = await Promise.all(group.paths.map((p) => fs.promises.readFile(path.join(dir, p))));
    const all = Buffer.concat(buffers);
    let offset = 0;
    for (const spec of group.weights) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      if (spec.dtype !== 'float32' && spec.dtype !== 'int32') throw new Error(`${file}: weight "${spec.name}" has dtype ${spec.dtype}, expected float32 or int32`);
      if (offset + 4 * n > all.byteLength) throw new Error(`${file}: weights file too short for "${spec.name}" (truncated checkpoint?)`);
      const bytes = new Uint8Array(4 * n);
      bytes.set(all.subarray(offset, offset + 4 * n));
      const values = spec.dtype === 'float32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
      tensors.set(spec.name, tf.tensor(values, spec.shape, spec.dtype));
      offset += 4 * n;
    }
  }
  return { tensors, metadata: json.userDefinedMetadata ?? {} };
}

/** Where checkpoints are; `null` when the folder holds none. */
export function hasSavedTensors(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'model.json'));
}

function writeFailure(dir: string, bytes: number, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'no space left on device (ENOSPC)' : err.code ? `${err.message} (${err.code})` : String(e);
  const kept = fs.existsSync(path.join(dir, 'model.json')) ? '; the previous copy there is kept' : '';
  return `cannot write ${path.resolve(dir)} (${(bytes / 1e6).toFixed(1)} MB): ${why}${kept}`;
}
