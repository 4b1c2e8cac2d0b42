import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository's protocol files (`configs/<name>.json`). */
export const PROTOCOLS_DIR = path.resolve(__dirname, '../../../../configs');

/**
 * A training protocol: fixed parameter values (data, network, epochs, batch, schedule, decay) that a
 * search space or a plain run starts from; searched parameters override them.
 */
export interface Protocol {
  name: string;
  description: string;
  params: Record<string, string | number | boolean>;
}

/** Reads `configs/<name>.json` or a path to such a file; errors name the file and the field. */
export function readProtocol(nameOrPath: string): Protocol {
  const file = nameOrPath.endsWith('.json') ? path.resolve(nameOrPath) : path.join(PROTOCOLS_DIR, `${nameOrPath}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read protocol (${(e as Error).message.split('\n')[0]})`);
  }
  const o = raw as Partial<Protocol>;
  if (typeof o?.name !== 'string') throw new Error(`${file}: field "name": expected a string`);
  if (typeof o.description !== 'string') throw new Error(`${file}: field "description": expected a string`);
  if (!o.params || typeof o.params !== 'object' || Array.isArray(o.params)) throw new Error(`${file}: field "params": expected an object of parameter values`);
  for (const [k, v] of Object.entries(o.params)) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw new Error(`${file}: field "params.${k}": got ${JSON.stringify(v)}, expected a string, number or boolean`);
  }
  return { name: o.name, description: o.description, params: o.params };
}
