/**
 * Decode + training augmentation benchmark: JPEGs of about 500x375 (CIFAR-10 images upscaled) decoded and
 * random-resized-cropped to 224x224 with a flip, normalised to float32, one image at a time on ONE core,
 * images/s; anchor in the same run: Pillow + torchvision transforms (RandomResizedCrop(224),
 * RandomHorizontalFlip, ToTensor, Normalize) with torch.set_num_threads(1). The evaluation path (resize 256,
 * centre crop 224) is measured the same way. Then the loader's throughput with 0 and 2 decode workers.
 *
 *   npx tsx bench/data/decode.ts [--images 300] [--python /usr/bin/python3]
 *
 * Prints a markdown table and writes bench/results/data-decode.part.md (merged into data.md by hand).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] as string) : dflt;
};
const root = resolve(__dirname, '../..');
const nImages = Number(opt('--images', '300'));
const python = opt('--python', '/usr/bin/python3');
const outDir = join(root, 'bench/out/data-jpegs');

async function makeFixtures(): Promise<string[]> {
  const { prepareCifar10Jpeg } = await import('../../plugins/longtail/src/data/prepare');
  const cifar = (await prepareCifar10Jpeg()).value;
  mkdirSync(outDir, { recursive: true });
  const classes = readdirSync(join(cifar, 'train')).sort();
  const files: string[] = [];
  for (let k = 0; k < nImages; k++) {
    const cls = classes[k % classes.length];
    const f = join(outDir, `${k}.jpg`);
    if (!existsSync(f)) {
      const src = join(cifar, 'train', cls, readdirSync(join(cifar, 'train', cls)).sort()[Math.floor(k / classes.length)]);
      await sharp(src).resize(500, 375, { fit: 'fill', kernel: 'lanczos3' }).jpeg({ quality: 90 }).toFile(f);
    }
    files.push(f);
  }
  return files;
}

/** One core: a child process with one libuv thread and one libvips thread, decoding sequentially. */
function oursChild(mode: 'train' | 'eval', files: string[]): number {
  const script = `
    const sharp = require('sharp'); sharp.concurrency(1);
    const { decodeFile, transformOptions } = require(${JSON.stringify(join(root, 'plugins/longtail/src/data/transforms.ts'))});
    const { rngFor } = require(${JSON.stringify(join(root, 'plugins/longtail/src/data/rng.ts'))});
    const files = ${JSON.stringify(files)};
    const t = transformOptions('imagenet', {});
    (async () => {
      for (let k = 0; k < 20; k++) await decodeFile(files[k], t, rngFor(1, k), ${mode === 'train'});
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < files.length; k++) await decodeFile(files[k], t, rngFor(2, k), ${mode === 'train'});
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ ips: files.length / s }));
    })();`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, cwd: root }).toString();
  return (JSON.parse(out.trim().split('\n').pop() as string) as { ips: number }).ips;
}

function torchChild(mode: 'train' | 'eval', files: string[]): { ips: number; versions: string } {
  const py = `
import json, sys, time, torch, torchvision, PIL
from PIL import Image
import torchvision.transforms as T
torch.set_num_threads(1)
files = json.loads(sys.stdin.read())
norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm]) if sys.argv[1] == 'train' else T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), norm])
def load(f):
    with open(f, 'rb') as fh:
        return tf(Image.open(fh).convert('RGB'))
for f in files[:20]: load(f)
t0 = time.perf_counter()
for f in files: load(f)
s = time.perf_counter() - t0
print(json.dumps({'ips': len(files) / s, 'versions': f'torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {PIL.__version__}'}))
`;
  const out = execFileSync(python, ['-c', py, mode], { input: JSON.stringify(files), env: { ...process.env, OMP_NUM_THREADS: '1' } }).toString();
  return JSON.parse(out.trim().split('\n').pop() as string) as { ips: number; versions: string };
}

async function loaderThroughput(files: string[], workers: number): Promise<number> {
  const { DecodePool, FileDataset, makeLoader, transformOptions } = await import('../../plugins/longtail/src/data');
  const { makeSampler } = await import('../../plugins/longtail/src/samplers');
  const labels = Int32Array.from(files, (_, k) => k % 10);
  const ds = new FileDataset('bench', files, labels, 10, transformOptions('imagenet', {}));
  const s = makeSampler('instance', labels, 10, { seed: 0 });
  // one pool for both epochs (the trainer's way): worker start-up is not part of the steady rate
  const recipe = ds.workerRecipe();
  const pool = workers > 0 ? new DecodePool(recipe, workers) : undefined;
  for await (const _b of makeLoader(ds, s, { batchSize: 32, epoch: 0, train: true, seed: 0, workers, pool })) break; // warm-up
  const t0 = process.hrtime.bigint();
  let n = 0;
  for await (const b of makeLoader(ds, s, { batchSize: 32, epoch: 1, train: true, seed: 0, workers, pool })) n += b.n;
  const rate = n / (Number(process.hrtime.bigint() - t0) / 1e9);
  await pool?.close();
  return rate;
}

(async () => {
  const files = await makeFixtures();
  const meta = await sharp(files[0]).metadata();
  const rows: string[] = [];
  let versions = '';
  for (const mode of ['train', 'eval'] as const) {
    // alternate the two sides three times and keep each side's best, so a busy neighbour hurts both alike
    let ours = 0;
    let torch = 0;
    for (let r = 0; r < 3; r++) {
      ours = Math.max(ours, oursChild(mode, files));
      const t = torchChild(mode, files);
      torch = Math.max(torch, t.ips);
      versions = t.versions;
    }
    rows.push(`| ${mode === 'train' ? 'train: random-resized-crop 224 + flip + normalise' : 'eval: resize 256 + centre crop 224 + normalise'} | ${ours.toFixed(1)} | ${torch.toFixed(1)} | ${(ours / torch).toFixed(2)} |`);
    console.error(rows[rows.length - 1]);
  }
  const l0 = await loaderThroughput(files, 0);
  const l2 = await loaderThroughput(files, 2);
  const md = [
    `### Decode + augmentation, ours (sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}) vs Pillow + torchvision (${new Date().toISOString().slice(0, 10)})`,
    '',
    `${files.length} JPEGs of ${meta.width}x${meta.height} (CIFAR-10 upscaled, quality 90); ONE core per side (UV_THREADPOOL_SIZE=1 and sharp.concurrency(1) / torch.set_num_threads(1)); images one at a time; best of 3 alternating runs. Anchor: ${versions} (Debian packages). CPU: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores shared with other jobs; load average at the end ${loadavg().map((v) => v.toFixed(1)).join(' / ')} (1/5/15 min).`,
    '',
    '| path | ours img/s/core | Pillow+torchvision img/s/core | ratio ours/anchor |',
    '|---|---|---|---|',
    ...rows,
    '',
    `Loader throughput (makeLoader, batch 32, train path, whole machine): main thread (sharp on the libuv pool) ${l0.toFixed(1)} img/s; 2 decode workers ${l2.toFixed(1)} img/s.`,
    '',
  ].join('\n');
  console.log(md);
  mkdirSync(join(root, 'bench/out'), { recursive: true });
  writeFileSync(join(root, 'bench/out/data-decode.md'), md);
})();
