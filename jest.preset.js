// Shared jest settings: TypeScript through SWC (fast, no type-check; `typecheck` targets run tsc).
const path = require('node:path');
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/?(*.)test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  rootDir: process.cwd(),
  reporters: ['default', path.join(__dirname, 'tools/jest-summary-reporter.js')],
};
