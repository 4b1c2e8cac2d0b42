/**
 * iNaturalist-2018-sized index build: generates train2018.json / val2018.json with the real set's sizes
 * (437,513 train images, 24,426 val images, 8,142 categories, long-tailed 1000..2 per class, the real
 * files' fields) and measures, each in a fresh process:
 *   - ours, first run: prepareInat18Index parses + validates both files and writes the cached index;
 *   - ours, second run: the cached index is read;
 *   - anchor: Python json.load of both files + the path/label lists (what the reference loaders do).
 * Wall time and peak RSS (getrusage maxrss) of each.
 *
 *   npx tsx bench/data/inat-index.ts [--python /usr/bin/python3]
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';

const args = process.argv.slice(2);
const python = args.includes('--python') ? (args[args.indexOf('--python') + 1] as string) : '/usr/bin/python3';
const root = resolve(__dirname, '../..');
const dir = join(root, 'bench/out/inat18-gen');
const K = 8142;
const TRAIN = 437513;
const VAL_PER_CLASS = 3;

/** Long-tailed counts in [2, 1000] summing to TRAIN: exponential profile, scale found by bisection. */
function counts(): number[] {
  const prof = (s: number) => Array.from({ length: K }, (_, i) => Math.min(1000, Math.max(2, Math.floor(s * Math.pow(2 / 1000, i / (K - 1))))));
  let lo = 1;
  let hi = 1e6;
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (prof(mid).reduce((a, b) => a + b, 0) > TRAIN) hi = mid;
    else lo = mid;
  }
  const c = prof(lo);
  let rest = TRAIN - c.reduce((a, b) => a + b, 0);
  for (let i = 0; rest > 0; i++) {
    if (c[i % K] < 1000) {
      c[i % K]++;
      rest--;
    }
  }
  return c;
}

let seed = 12345;
const hex = () => {
  let s = '';
  for (let k = 0; k < 4; k++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    s += seed.toString(16).padStart(8, '0');
  }
  return s;
};
const kingdoms = ['Plantae', 'Insecta', 'Aves', 'Reptilia', 'Mammalia', 'Fungi', 'Amphibia', 'Mollusca', 'Animalia', 'Arachnida', 'Actinopterygii', 'Chromista', 'Protozoa', 'Bacteria'];

async function writeSplit(file: string, perClass: number[], idBase: number): Promise<void> {
  const out = createWriteStream(file);
  const w = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await w('{"info": {"year": 2018, "version": "1.0", "description": "generated for the index benchmark"}, "licenses": [{"id": 1, "name": "CC BY"}], "images": [');
  let id = idBase;
  let first = true;
  const anns: string[] = [];
  for (let c = 0; c < K; c++) {
    for (let k = 0; k < perClass[c]; k++, id++) {
      await w(`${first ? '' : ', '}{"id": ${id}, "file_name": "train_val2018/${kingdoms[c % kingdoms.length]}/${c}/${hex()}.jpg", "width": 800, "height": ${533 + (id % 267)}, "license": 1, "rights_holder": "Observer ${id % 9973}"}`);
      anns.push(`{"id": ${id}, "image_id": ${id}, "category_id": ${c}}`);
      first = false;
    }
  }
  await w('], "annotations": [');
  for (let i = 0; i < anns.length; i += 10000) await w((i ? ', ' : '') + anns.slice(i, i + 10000).join(', '));
  await w('], "categories": [');
  for (let c = 0; c < K; c++) {
    const s = kingdoms[c % kingdoms.length];
    await w(`${c ? ', ' : ''}{"id": ${c}, "name": "Species ${c}", "supercategory": "${s}", "kingdom": "${s}", "phylum": "P${c % 50}", "class": "C${c % 200}", "order": "O${c % 600}", "family": "F${c % 1500}", "genus": "G${c % 4000}"}`);
  }
  await w(']}');
  out.end();
  await once(out, 'finish');
}

function child(code: string): { ms: number; rssMB: number; extra: string } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, maxBuffer: 1 << 24 }).toString();
  return JSON.parse(out.trim().split('\n').pop() as string) as { ms: number; rssMB: number; extra: string };
}

(async () => {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'val2018.json'))) {
    const c = counts();
    await writeSplit(join(dir, 'train2018.json'), c, 0);
    await writeSplit(join(dir, 'val2018.json'), new Array<number>(K).fill(VAL_PER_CLASS), 10_000_000);
  }
  const cache = join(dir, '.cache');
  rmSync(cache, { recursive: true, force: true });
  const ours = `
    const { prepareInat18Index } = require(${JSON.stringify(join(root, 'plugins/longtail/src/data/prepare.ts'))});
    const t0 = process.hrtime.bigint();
    prepareInat18Index(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cache)} }).then((r) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      console.log(JSON.stringify({ ms, rssMB: process.resourceUsage().maxRSS / 1024, extra: (r.cached ? 'cached ' : 'built ') + r.value.train.paths.length + ' train, ' + r.value.val.paths.length + ' val, ' + r.value.classNames.length + ' classes' }));
    });`;
  const first = child(ours);
  const second = child(ours);
  const py = `
import json, resource, time
t0 = time.perf_counter()
out = {}
for split in ('train', 'val'):
    with open('${dir}/' + split + '2018.json') as f:
        d = json.load(f)
    label = {a['image_id']: a['category_id'] for a in d['annotations']}
    out[split] = ([im['file_name'] for im in d['images']], [label[im['id']] for im in d['images']])
ms = (time.perf_counter() - t0) * 1000
print(json.dumps({'ms': ms, 'rssMB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'extra': f"{len(out['train'][0])} train, {len(out['val'][0])} val"}))
`;
  const pyOut = JSON.parse(execFileSync(python, ['-c', py]).toString().trim()) as { ms: number; rssMB: number; extra: string };
  const pyVer = execFileSync(python, ['--version']).toString().trim();
  const idxFile = (execFileSync('ls', [cache]).toString().trim().split('\n')[0] as string) || '';
  const mb = (f: string) => (statSync(f).size / 1048576).toFixed(1);
  const md = [
    `### iNaturalist-2018-sized index (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Generated train2018.json (${mb(join(dir, 'train2018.json'))} MB: 437,513 images, 8,142 classes, 1000..2 per class) and val2018.json (${mb(join(dir, 'val2018.json'))} MB, 3 per class). Each row a fresh process; peak RSS from getrusage. CPU: ${cpus()[0]?.model ?? '?'}, shared; load average at the end ${loadavg().map((v) => v.toFixed(1)).join(' / ')} (1/5/15 min).`,
    '',
    '| run | wall s | peak RSS MB | result |',
    '|---|---|---|---|',
    `| ours, first run: parse + validate + write index (${mb(join(cache, idxFile))} MB) | ${(first.ms / 1000).toFixed(2)} | ${first.rssMB.toFixed(0)} | ${first.extra} |`,
    `| ours, second run: cached index | ${(second.ms / 1000).toFixed(2)} | ${second.rssMB.toFixed(0)} | ${second.extra} |`,
    `| anchor: ${pyVer} json.load + path/label lists (no validation) | ${(pyOut.ms / 1000).toFixed(2)} | ${pyOut.rssMB.toFixed(0)} | ${pyOut.extra} |`,
    '',
  ].join('\n');
  console.log(md);
  writeFileSync(join(root, 'bench/out/data-inat-index.md'), md);
})();
