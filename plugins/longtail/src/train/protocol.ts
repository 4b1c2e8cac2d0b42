import * as fs from 'node:fs';
import * as path from 'node:path';

/** The protocol files (`configs/<name>.json`): the repository's from the sources, the copy in dist/ when built. */
export const PROTOCOLS_DIR = path.resolve(__dirname, path.extname(__filename) === '.ts' ? '../../../../configs' : '../configs');

/**
 * A training protocol: fixed parameter values (data, network, epochs, batch, schedule, decay) that a
 * search space or a plain run starts from; searched parameters override them. The file is a flat
 * JSON object of parameters (what search spaces' `protocol` field reads); its name is the file's.
 */
export interface Protocol {
  name: string;
  file: string;
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
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object of parameter values`);
  for (const [k, v] of Object.entries(raw)) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw new Error(`${file}: field "${k}": got ${JSON.stringify(v)}, expected a string, number or boolean`);
  }
  return { name: path.basename(file, '.json'), file, params: raw as Record<string, string | number | boolean> };
}
