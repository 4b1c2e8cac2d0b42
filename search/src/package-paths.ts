import * as fs from 'node:fs';
import * as path from 'node:path';

/** True when this code runs from the workspace's TypeScript sources (tsx, jest), false when built. */
export const FROM_SOURCES = path.extname(__filename) === '.ts';

/** The repository root when running from its sources (search/src -> root, marked by nx.json), else null. */
export function workspaceRoot(): string | null {
  if (!FROM_SOURCES) return null;
  const root = path.resolve(__dirname, '..', '..');
  return fs.existsSync(path.join(root, 'nx.json')) ? root : null;
}

/** Built-in search spaces (search-spaces/) and protocols (configs/): the repository's, or the copies in dist/. */
export function assetsRoot(): string {
  return workspaceRoot() ?? __dirname;
}

/** Where reports, data and the local MLflow store go: the repository, or the user's current folder. */
export function projectRoot(): string {
  return workspaceRoot() ?? process.cwd();
}

/** The folder a space's relative `protocol` path is read from: the project when the file is there, else the built-ins. */
export function protocolRoot(protocol: string | undefined): string {
  const project = projectRoot();
  return protocol && !fs.existsSync(path.resolve(project, protocol)) ? assetsRoot() : project;
}
