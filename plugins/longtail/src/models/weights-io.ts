import * as fs from 'node:fs';
import * as path from 'node:path';
import { tfx, type NamedTensorMap, type Tensor } from './tf';

/**
 * Saves named tensors in the TensorFlow.js weights format: `model.json` with a `weightsManifest`
 * (readable by tf.io.decodeWeights / loadWeights) plus one `weights.bin`, and our own metadata.
 * Written into a temporary folder and renamed into place, so a crash never leaves a half checkpoint.
 */
export async function saveTensors(dir: string, tensors: { name: string; tensor: Tensor }[], metadata: Record<string, unknown> = {}): Promise<void> {
  const tf = tfx();
  const map: NamedTensorMap = {};
  for (const t of tensors) map[t.name] = t.tensor;
  const { data, specs } = await tf.io.encodeWeights(map);
  const parent = path.dirname(path.resolve(dir));
  await fs.promises.mkdir(parent, { recursive: true });
  const tmp = `${path.resolve(dir)}.tmp-${process.pid}-${Date.now()}`;
  await fs.promises.mkdir(tmp, { recursive: true });
  await fs.promises.writeFile(path.join(tmp, 'weights.bin'), Buffer.from(data as ArrayBuffer));
  const modelJson = {
    format: 'iccl-weights',
    generatedBy: `TensorFlow.js ${tf.version.tfjs}`,
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    userDefinedMetadata: metadata,
  };
  await fs.promises.writeFile(path.join(tmp, 'model.json'), JSON.stringify(modelJson));
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
    weightsManifest?: { paths: string[]; weights: Parameters<typeof tf.io.decodeWeights>[1] }[];
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
    const ab = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
    const decoded = tf.io.decodeWeights(ab, group.weights);
    for (const [k, v] of Object.entries(decoded)) tensors.set(k, v);
  }
  return { tensors, metadata: json.userDefinedMetadata ?? {} };
}

/** Where checkpoints are; `null` when the folder holds none. */
export function hasSavedTensors(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'model.json'));
}
