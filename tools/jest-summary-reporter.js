// Writes each jest run's counts to .cache/jest/<project>.json, so that one closing line can sum
// the whole workspace (tools/test-summary.mjs) after Nx has run every project's tests.
const fs = require('node:fs');
const path = require('node:path');
const { stripVTControlCharacters } = require('node:util');

class SummaryReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
  }
  onRunComplete(_contexts, results) {
    const dir = path.join(__dirname, '..', '.cache', 'jest');
    fs.mkdirSync(dir, { recursive: true });
    const name = path.basename(path.dirname(this.globalConfig.rootDir)) + '-' + path.basename(this.globalConfig.rootDir);
    const failedSuites = results.testResults.filter((r) => r.testExecError).map((r) => r.testFilePath);
    // Each failed test with the first lines of its message, so that the closing summary names what failed
    // even when only the end of a long CI log is kept.
    const failedTests = results.testResults.flatMap((file) =>
      file.testResults
        .filter((t) => t.status === 'failed')
        .map((t) => ({
          file: path.relative(path.join(__dirname, '..'), file.testFilePath),
          name: t.fullName,
          message: stripVTControlCharacters(t.failureMessages.join('\n')).split('\n').filter((l) => l.trim()).slice(0, 4).join('\n'),
        })),
    );
    fs.writeFileSync(
      path.join(dir, `${name}.json`),
      JSON.stringify({
        rootDir: this.globalConfig.rootDir,
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        skipped: results.numPendingTests + results.numTodoTests,
        failedSuites,
        failedTests,
        success: results.success,
      }) + '\n',
    );
  }
}
module.exports = SummaryReporter;
