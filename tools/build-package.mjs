#!/usr/bin/env node
// Builds one library of the workspace into the layout its package.json ships:
//   dist/**/*.js (CommonJS) + .d.ts + .js.map   tsc -p <pkg>/tsconfig.build.json, against the
//                                               other packages' built declarations (build order: Nx ^build)
//   dist/index.mjs                              the ES-module entry: re-exports the CommonJS build, so
//                                               `import` and `require` share one instance (no dual-package state)
//   dist/<asset>/                               the repository files the package reads at run time
// Usage: node tools/build-package.mjs <package-dir>
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.argv[2] && path.resolve(root, process.argv[2]);
if (!dir || !fs.existsSync(path.join(dir, 'tsconfig.build.json'))) {
  console.error(`build-package: expected a package folder with a tsconfig.build.json, got ${process.argv[2] ?? 'nothing'}`);
  process.exit(2);
}
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));

// Repository folders a package reads at run time (search spaces by name, protocol files), copied under dist/.
const ASSETS = {
  '@iccl/search': ['search-spaces', 'configs'],
  '@iccl/longtail': ['configs'],
};

const dist = path.join(dir, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`build-package: tsc failed for ${pkg.name}`);
  process.exit(1);
}
if (!fs.existsSync(path.join(dist, 'index.js'))) {
  console.error(`build-package: ${pkg.name}: tsc wrote no dist/index.js (is rootDir src?)`);
  process.exit(1);
}
fs.writeFileSync(path.join(dist, 'index.mjs'), "export * from './index.js';\n");
for (const a of ASSETS[pkg.name] ?? []) {
  fs.cpSync(path.join(root, a), path.join(dist, a), { recursive: true, filter: (src) => !src.endsWith('.md') });
}
console.log(`build-package: ${pkg.name} -> ${path.relative(root, dist)}`);
