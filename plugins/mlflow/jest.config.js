const preset = require('../../jest.preset.js');
// One MLflow server (and one basic-auth server) per test run, started in globalSetup: a cold start
// takes ~10 s. Tests read their URIs from ICCL_TEST_MLFLOW_URI / ICCL_TEST_MLFLOW_AUTH_URI.
module.exports = {
  ...preset,
  rootDir: __dirname,
  displayName: 'mlflow',
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testTimeout: 180000,
  maxWorkers: 2,
};
