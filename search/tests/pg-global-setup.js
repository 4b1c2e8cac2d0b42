// Starts a real PostgreSQL for the storage/driver tests (tools/pg/start.sh) unless CI gave one in
// ICCL_TEST_PG_URL. If it cannot start, tests that need it fail with the reason (never skip).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

module.exports = async function globalSetup() {
  if (process.env.ICCL_TEST_PG_URL) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-pg-'));
  fs.chmodSync(dir, 0o755);
  try {
    const out = execFileSync('bash', [path.join(__dirname, '../../tools/pg/start.sh'), path.join(dir, 'pg')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    process.env.ICCL_TEST_PG_URL = out.trim().split('\n').pop();
    globalThis.__ICCL_PG_DIR__ = path.join(dir, 'pg');
  } catch (e) {
    process.env.ICCL_TEST_PG_ERROR = `could not start PostgreSQL with tools/pg/start.sh: ${String(e.stderr || e.message).trim()}`;
  }
};
