import * as fs from 'node:fs';
import * as path from 'node:path';
import { pluginFromModule, type TrainerPlugin } from './trainer';

/**
 * Loads a trainer plugin by package name (`@iccl/iccl`), by path (`./my-plugin.ts`), optionally
 * naming one of several plugins a module exports under `plugins` (`@iccl/baselines#ce`).
 * Paths are resolved against `cwd`; package names as this package's own require sees them first (in the
 * workspace that maps @iccl/* to their sources, see tsconfig.json), then from `cwd`.
 */
export function loadPlugin(spec: string, cwd = process.cwd()): TrainerPlugin {
  const [where, member] = spec.split('#', 2) as [string, string | undefined];
  const asPath = path.resolve(cwd, where);
  let resolved: string;
  if (where.startsWith('.') || where.startsWith('/') || fs.existsSync(asPath)) {
    if (!fs.existsSync(asPath)) throw new Error(`plugin "${spec}": no file at ${asPath}`);
    resolved = asPath;
  } else {
    const found = resolvePackage(where, cwd);
    if (!found) throw new Error(`plugin "${spec}": package ${where} is not installed (npm install it, or give a path to the plugin file)`);
    resolved = found;
  }
  const mod = require(resolved) as Record<string, unknown>;
  if (member !== undefined) {
    const table = (mod.plugins ?? {}) as Record<string, unknown>;
    if (!(member in table)) {
      throw new Error(`plugin "${spec}": ${where} exports no plugins.${member} (it has: ${Object.keys(table).join(', ') || 'none'})`);
    }
    return pluginFromModule(table[member], spec);
  }
  return pluginFromModule(mod, spec);
}

function resolvePackage(name: string, cwd: string): string | null {
  // A plain require.resolve goes through the loader's path mapping (tsx, jest); with `paths` it would not.
  for (const attempt of [() => require.resolve(name), () => require.resolve(name, { paths: [cwd] })]) {
    try {
      return attempt();
    } catch {
      // not resolvable this way; try the next
    }
  }
  return null;
}
