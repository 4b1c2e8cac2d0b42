const preset = require('../jest.preset.js');
module.exports = {
  ...preset,
  rootDir: __dirname,
  displayName: 'search',
  // A real PostgreSQL for the storage and driver tests (or the one CI names in ICCL_TEST_PG_URL).
  globalSetup: '<rootDir>/tests/pg-global-setup.js',
  globalTeardown: '<rootDir>/tests/pg-global-teardown.js',
};
