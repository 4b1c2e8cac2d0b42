const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function globalTeardown() {
  if (!globalThis.__ICCL_PG_DIR__) return;
  execFileSync('bash', [path.join(__dirname, '../../tools/pg/stop.sh'), globalThis.__ICCL_PG_DIR__], { stdio: 'ignore' });
  require('node:fs').rmSync(path.dirname(globalThis.__ICCL_PG_DIR__), { recursive: true, force: true });
};
