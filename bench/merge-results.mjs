// Collects the per-topic result files (bench/results/*.md, each written by its benchmark) into
// bench/RESULTS.md, so there is one page to read and each benchmark still owns its own table.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const order = ['status', 'native', 'data', 'train', 'search', 'search-infra', 'mlflow', 'demo'];
const files = fs.readdirSync(path.join(here, 'results')).filter((f) => f.endsWith('.md'));
files.sort((a, b) => {
  const ia = order.indexOf(a.replace(/\.md$/, '')), ib = order.indexOf(b.replace(/\.md$/, ''));
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
});
const parts = [
  '# Benchmark results',
  '',
  'Each section is written by the benchmark named in it (`bench/<topic>/`), which runs the anchor in the same',
  'job and prints the ratio. Measured on the development machine (2 cores, 24 GiB, no GPU); numbers taken while',
  'other work was running on the machine are marked as such. Regenerate this page with `node bench/merge-results.mjs`.',
  '',
];
for (const f of files) parts.push(fs.readFileSync(path.join(here, 'results', f), 'utf8').trim(), '');
fs.writeFileSync(path.join(here, 'RESULTS.md'), parts.join('\n'));
console.log(`bench/RESULTS.md: ${files.length} sections`);
