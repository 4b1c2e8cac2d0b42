// Shared jest settings: TypeScript through SWC (fast, no type-check; `typecheck` targets run tsc).
const path = require('node:path');
const fs = require('node:fs');

function sourceMapper() {
  const base = JSON.parse(fs.readFileSync(path.join(__dirname, 'tsconfig.base.json'), 'utf8'));
  const map = {};
  for (const [name, [target]] of Object.entries(base.compilerOptions.paths)) map[`^${name.replace(/[/.]/g, '\\$&')}$`] = path.join(__dirname, target);
  return map;
}
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The packages' exports name their built dist/; tests run on the sources (tsconfig.base.json's paths).
  moduleNameMapper: sourceMapper(),
  testMatch: ['**/?(*.)test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  rootDir: process.cwd(),
  reporters: ['default', path.join(__dirname, 'tools/jest-summary-reporter.js')],
};
