/**
 * A loader-fed ResNet-32 epoch: what share of the wall time the training loop waits for data.
 * CIFAR-10 JPEGs (the shared archive's train split, the first `--images` files in class-folder
 * order, labels from the folders) through makeLoader (CIFAR augmentation: pad 4, random 32x32 crop,
 * flip; the instance sampler; prefetch 2) into the cross-entropy step of ResNet-32 at batch 128, as
 * the trainer runs it (tensor from the batch, stage1Step). Waiting = time spent in the loader's
 * next() call; the rest is the step and the host-to-tensor copy.
 *
 *   npx tsx bench/data/loader-wait.ts [--images 2560] [--workers 1,0]
 *
 * Appends its table to bench/results/decode.md (run after bench/data/decode.ts).
 */
import { appendFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { CrossEntropyMethod } from '../../plugins/baselines/src/ce';
import { DecodePool, FileDataset, makeLoader, transformOptions } from '../../plugins/longtail/src/data';
import { listImageFolder } from '../../plugins/longtail/src/data/image-folder';
import { prepareCifar10Jpeg } from '../../plugins/longtail/src/data/prepare';
import { Rng, SgdMomentum, buildResNet32, makeSampler, stage1Step, type DeviceBatch, type Tensor1D, type Tensor4D } from '../../plugins/longtail/src';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt);
const nImages = Number(opt('--images', '2560'));
const workerCounts = opt('--workers', `${Math.max(1, availableParallelism() - 1)},0`).split(',').map(Number);
const B = 128;
const root = resolve(__dirname, '../..');

(async () => {
  const tf = loadTf('cpu');
  const cifar = (await prepareCifar10Jpeg()).value;
  const listing = await listImageFolder(join(cifar, 'train'));
  const paths = listing.paths.slice(0, nImages);
  // first files of every class in turn, so each batch has all ten classes
  const perClass = new Map<number, number[]>();
  listing.labels.forEach((y, i) => perClass.set(y, [...(perClass.get(y) ?? []), i]));
  const order: number[] = [];
  for (let k = 0; order.length < nImages; k++) for (const idx of perClass.values()) if (k < idx.length && order.length < nImages) order.push(idx[k]);
  void paths;
  const ds = new FileDataset(
    'cifar10-bench',
    order.map((i) => listing.paths[i]),
    Int32Array.from(order, (i) => listing.labels[i]),
    10,
    transformOptions('cifar', {}),
  );
  const rows: string[] = [];
  for (const workers of workerCounts) {
    const net = buildResNet32(10);
    const opt = new SgdMomentum(0.9, 2e-4);
    const method = new CrossEntropyMethod();
    const vars = net.store.list();
    const sampler = makeSampler('instance', ds.labels, 10, { seed: 0 });
    const pool = workers > 0 ? new DecodePool(ds.workerRecipe(), workers) : undefined;
    const rng = new Rng(1);
    let wait = 0;
    let step = 0;
    let n = 0;
    const t0 = performance.now();
    for (const epoch of [0, 1]) {
      // epoch 0 warms up (worker start, kernels); epoch 1 is timed
      const it = makeLoader(ds, sampler, { batchSize: B, epoch, train: true, seed: 0, workers, pool })[Symbol.asyncIterator]();
      const tEpoch = performance.now();
      for (;;) {
        const tw = performance.now();
        const r = await it.next();
        if (epoch === 1) wait += performance.now() - tw;
        if (r.done) break;
        const b = r.value;
        const a: DeviceBatch = { x: tf.tensor4d(b.x.subarray(0, b.n * 32 * 32 * 3), [b.n, 32, 32, 3]) as Tensor4D, y: tf.tensor1d(b.y.subarray(0, b.n), 'int32') as Tensor1D, labels: b.y.subarray(0, b.n), n: b.n };
        stage1Step(net, method, opt, vars, a, null, { epoch, step: step++, rng }, 0.1);
        tf.dispose([a.x, a.y]);
        if (epoch === 1) n += b.n;
      }
      if (epoch === 1) {
        const total = performance.now() - tEpoch;
        rows.push(`| ${workers === 0 ? '0 (main thread)' : workers} | ${n} | ${(total / 1000).toFixed(1)} | ${(wait / 1000).toFixed(2)} | **${((100 * wait) / total).toFixed(1)}%** | ${((n * 1000) / total).toFixed(1)} | ${loadavg()[0].toFixed(1)} |`);
        process.stderr.write(rows[rows.length - 1] + '\n');
      }
    }
    void t0;
    await pool?.close();
    opt.clear();
    net.dispose();
  }
  const md = [
    '',
    `### Loader-fed ResNet-32 epoch: share of time waiting for data (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    `\`npx tsx bench/data/loader-wait.ts${args.length ? ' ' + args.join(' ') : ''}\`: ${nImages} CIFAR-10 train JPEGs (shared archive; an "epoch" of this subset, the second`,
    'of two, the first being warm-up), CIFAR augmentation, batch 128, cross-entropy step of ResNet-32 through stage1Step, 2 TensorFlow threads.',
    `Waiting = time in the loader's next(). Decode workers default to cores - 1 (${Math.max(1, availableParallelism() - 1)} here).`,
    '',
    '| decode workers | images | epoch s | waiting s | waiting share | img/s | load avg |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(md);
  appendFileSync(join(root, 'bench/results/decode.md'), md);
})();
