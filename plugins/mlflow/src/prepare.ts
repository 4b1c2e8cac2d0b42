import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkKey, LIMITS, type KeyValue } from './limits';
import type { DatasetInfo } from '@iccl/trainer-api';
import type { Dataset } from './schemas';

/** A value too long for MLflow, written to a file that becomes an artifact. */
export interface Oversize {
  file: string;
  artifactPath: string;
}

export interface Prepared {
  items: KeyValue[];
  /** Tags saying where the full values went. */
  notes: KeyValue[];
  artifacts: Oversize[];
  /** One message per item refused (bad key). */
  rejected: string[];
}

function safeName(key: string): string {
  return key.replace(/[^\w.-]+/g, '_').slice(0, 200);
}

/**
 * Checks keys and moves over-long values to files under `scratchDir` (uploaded as artifacts under
 * `oversize/<kind>/`): the logged value keeps a prefix and says where the rest is, and a tag
 * `iccl.oversize.<kind>.<key>` names the artifact.
 */
export function prepareValues(kind: 'params' | 'tags', entries: [string, string][], scratchDir: string): Prepared {
  const max = kind === 'params' ? LIMITS.paramValueLength : LIMITS.tagValueLength;
  const out: Prepared = { items: [], notes: [], artifacts: [], rejected: [] };
  for (const [key, value] of entries) {
    const bad = checkKey(kind === 'params' ? 'param' : 'tag', key);
    if (bad) {
      out.rejected.push(bad);
      continue;
    }
    if (value.length <= max) {
      out.items.push({ key, value });
      continue;
    }
    const artifactPath = `oversize/${kind}`;
    const file = path.join(scratchDir, artifactPath, `${safeName(key)}.txt`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, value);
    const where = `${artifactPath}/${path.basename(file)}`;
    const suffix = ` ...[${value.length} chars; full value in artifact ${where}]`;
    out.items.push({ key, value: value.slice(0, max - suffix.length) + suffix });
    const noteKey = `iccl.oversize.${kind}.${key}`.slice(0, LIMITS.keyLength);
    out.notes.push({ key: noteKey, value: where });
    out.artifacts.push({ file, artifactPath });
  }
  return out;
}

/** Our DatasetInfo as MLflow's Dataset, with the context as the `mlflow.data.context` input tag. */
export function toMlflowDataset(d: DatasetInfo): { dataset: Dataset; tags: KeyValue[] } {
  // MLflow stores at most 36 characters of digest; a longer one (a sha256) is cut, and kept whole in the profile.
  const dataset: Dataset = {
    name: d.name,
    digest: d.digest.slice(0, LIMITS.datasetDigestLength),
    source_type: /^[a-z][\w+.-]*:\/\//i.test(d.source) ? 'http' : 'local',
    source: JSON.stringify({ uri: d.source }),
  };
  const profile = d.digest.length > LIMITS.datasetDigestLength ? { ...d.profile, digest: d.digest } : d.profile;
  if (profile) dataset.profile = JSON.stringify(profile);
  return { dataset, tags: d.context ? [{ key: 'mlflow.data.context', value: d.context }] : [] };
}

export function stringifyParam(v: string | number | boolean): string {
  return typeof v === 'string' ? v : String(v);
}
