// Shared jest settings: TypeScript through SWC (fast, no type-check; `typecheck` targets run tsc).
const path = require('node:path');
const fs = require('node:fs');

/** @iccl/* -> its src/index.ts, from tsconfig.base.json's paths. */
const SOURCES = Object.fromEntries(
  Object.entries(JSON.parse(fs.readFileSync(path.join(__dirname, 'tsconfig.base.json'), 'utf8')).compilerOptions.paths).map(([name, [target]]) => [name, path.join(__dirname, target)]),
);

function sourceMapper() {
  return Object.fromEntries(Object.entries(SOURCES).map(([name, file]) => [`^${name.replace(/[/.]/g, '\\$&')}$`, file]));
}

// globalSetup / globalTeardown modules run in jest's own process, where moduleNameMapper does not
// apply: map @iccl/* to the sources there too (as the node_modules links did before packages had dist/).
const Module = require('node:module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, SOURCES[request] ?? request, ...rest);
};
// Tests see a copy of process.env, so what @iccl/tf-backend sets there before loading libtensorflow
// (oneDNN kernels on, INFO logs off) never reaches the library's getenv: set it here, in jest's own
// process, whose real environment the test workers inherit. Without it, tests computed with other
// kernels than the trainers do outside jest (bench/methods/golden.ts found the difference).
process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';

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
