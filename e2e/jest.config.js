const preset = require('../jest.preset.js');
// One real MLflow server for the run (or the one CI names in ICCL_TEST_MLFLOW_URI); never skipped.
module.exports = {
  ...preset,
  rootDir: __dirname,
  displayName: 'e2e',
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testTimeout: 900000,
  maxWorkers: 1,
};
