// Sums the per-project jest counts into one closing line: "Tests: N passed, M failed, K skipped".
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, '.cache', 'jest');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
let passed = 0, failed = 0, skipped = 0, broken = 0;
for (const f of files) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  broken += r.failedSuites.length;
  if (r.failedSuites.length) console.log(`suites that did not run in ${f}: ${r.failedSuites.join(', ')}`);
  for (const t of r.failedTests ?? []) console.log(`FAILED ${t.file} › ${t.name}\n${t.message.replace(/^/gm, '    ')}`);
}
// A suite that crashed before its tests ran counts as a failure.
failed += broken;
console.log(`${files.length} projects tested`);
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(files.length === 0 || passed === 0 || failed > 0 ? 1 : 0);
