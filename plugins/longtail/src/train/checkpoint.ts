import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTensors, saveTensors } from '../models/weights-io';
import type { NamedVariable } from '../models/store';
import type { Tensor } from '../models/tf';

/** What a checkpoint records besides tensors: where training stands and how to continue identically. */
export interface CheckpointMeta {
  version: 1;
  /** 1: representation learning, 2: cRT */
  stage: 1 | 2;
  /** epochs of `stage` completed (the next epoch to run) */
  epochsDone: number;
  /** fingerprint of the parameters that shape training (resuming with others is refused) */
  fingerprint: string;
  methodState: Record<string, unknown>;
  /** the latest evaluation, so a resumed run reports the same final metrics */
  lastEval: Record<string, number> | null;
}

export const CHECKPOINT_DIR = 'checkpoint';

/** Writes variables, optimiser buffers and metadata; atomic (temp folder, then rename). */
export async function saveCheckpoint(workDir: string, vars: NamedVariable[], extra: { name: string; tensor: Tensor }[], meta: CheckpointMeta): Promise<string> {
  const dir = path.join(workDir, CHECKPOINT_DIR);
  await saveTensors(dir, [...vars.map((v) => ({ name: v.name, tensor: v.variable as Tensor })), ...extra], meta as unknown as Record<string, unknown>);
  return dir;
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  tensors: Map<string, Tensor>;
}

export async function readCheckpoint(workDir: string): Promise<LoadedCheckpoint | null> {
  const dir = path.join(workDir, CHECKPOINT_DIR);
  if (!fs.existsSync(path.join(dir, 'model.json'))) return null;
  const { tensors, metadata } = await loadTensors(dir);
  const meta = metadata as unknown as CheckpointMeta;
  if (meta.version !== 1 || (meta.stage !== 1 && meta.stage !== 2)) {
    for (const t of tensors.values()) t.dispose();
    throw new Error(`${path.join(dir, 'model.json')}: userDefinedMetadata is not an ICCL checkpoint (version ${JSON.stringify(meta.version)})`);
  }
  return { meta, tensors };
}

/** Assigns saved values to variables by name; every variable must be present with its shape. */
export function restoreVariables(vars: NamedVariable[], tensors: Map<string, Tensor>, where: string): void {
  for (const v of vars) {
    const t = tensors.get(v.name);
    if (!t) throw new Error(`${where}: checkpoint has no variable "${v.name}" (was it written by another model?)`);
    if (t.shape.join('x') !== v.variable.shape.join('x')) {
      throw new Error(`${where}: variable "${v.name}" has shape ${t.shape.join('x')} in the checkpoint, expected ${v.variable.shape.join('x')}`);
    }
    v.variable.assign(t);
  }
}
