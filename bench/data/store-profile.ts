/**
 * Where the per-image time of decode + augment goes, for the originals and each prepared store: the
 * training transform (random-resized-crop 224 + flip + normalise) of `--images` items in turn on this
 * thread (ds.load, as bench/data/prepared-store.ts's "decode alone" rows), with
 *  - CPU-ms per image of the whole process and per thread kind (/proc/self/task: the JavaScript thread,
 *    which also runs libtensorflow's ops synchronously, the libuv pool where sharp and file reads run,
 *    libvips' and TensorFlow's own threads), and
 *  - the JavaScript thread's CPU profile (node:inspector): self time per function, per image.
 * Small and short: a profiling aid, not a benchmark (no quiet machine needed; shares are what it gives).
 *
 * With --loader: one epoch of batches of 64 through makeLoader with one decode worker instead (the
 * JavaScript thread is then the loader's side; the worker's CPU shows per thread).
 *
 *   npx tsx bench/data/store-profile.ts [--data-dir bench/out/store-800x600] [--images 200] [--top 8] [--loader] [--only originals|raw|jpeg]
 *
 * Builds its stores in bench/out/store-profile-cache (not the bench's cache, whose build it would time).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Session, type Profiler } from 'node:inspector';
import { join, resolve } from 'node:path';

process.env.TF_NUM_INTRAOP_THREADS ??= '1';
process.env.TF_NUM_INTEROP_THREADS ??= '1';
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt);
const root = resolve(__dirname, '../..');
const dataDir = resolve(opt('--data-dir', join(root, 'bench/out/store-800x600')));
const nImages = Number(opt('--images', '200'));
const top = Number(opt('--top', '8'));
const loader = args.includes('--loader');

/** CPU seconds per thread kind (utime + stime of /proc/self/task/<tid>/stat, by thread name). */
function threadCpu(): Map<string, number> {
  const tick = 100; // USER_HZ on Linux
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const kind = Number(tid) === process.pid ? 'JS thread (+ TF ops run inline)' : name.replace(/[-_ ]?\d+$/, '');
    out.set(kind, (out.get(kind) ?? 0) + (Number(f[11]) + Number(f[12])) / tick);
  }
  return out;
}

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((res, rej) => s.post(method, params, (e, r) => (e ? rej(e) : res(r as T))));
}

/** Self time per function (ms per image), from a profile's samples. */
function selfTimes(p: Profiler.Profile, n: number): Array<[string, number]> {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const dt = p.timeDeltas ?? [];
  const per = new Map<string, number>();
  (p.samples ?? []).forEach((id, k) => {
    const c = byId.get(id)!.callFrame;
    const where = c.url ? `${c.url.replace(/^.*\/(plugins|node_modules)\//, '$1/')}:${c.lineNumber + 1}` : '';
    const key = `${c.functionName || '(anonymous)'} ${where}`.trim();
    per.set(key, (per.get(key) ?? 0) + (dt[k] ?? 0) / 1000 / n);
  });
  return [...per.entries()].sort((a, b) => b[1] - a[1]);
}

/** Runs `work` (returns the images it did) under the profiler; prints CPU per image per thread and the JS thread's top functions. */
async function measure(name: string, s: Session, work: () => Promise<number>): Promise<number> {
  const t0 = threadCpu();
  const c0 = process.cpuUsage();
  await post(s, 'Profiler.start');
  const n = await work();
  const { profile } = await post<{ profile: Profiler.Profile }>(s, 'Profiler.stop');
  const c = process.cpuUsage(c0);
  const t1 = threadCpu();
  console.log(`\n## ${name}${loader ? ', loader with 1 worker' : ''}: ${((c.user + c.system) / 1000 / n).toFixed(2)} CPU-ms/img (process), ${n} images`);
  for (const [k, v] of t1) {
    const ms = ((v - (t0.get(k) ?? 0)) * 1000) / n;
    if (ms >= 0.05) console.log(`  thread ${k}: ${ms.toFixed(2)} ms/img`);
  }
  console.log('  JS thread self time (ms/img):');
  for (const [k, v] of selfTimes(profile, n).slice(0, top)) console.log(`    ${v.toFixed(3)}  ${k}`);
  return n;
}

(async () => {
  const { loadTf } = await import('@iccl/tf-backend');
  loadTf('cpu'); // the native TensorFlow JPEG path, as in the decode workers
  const { loadDataset } = await import('../../plugins/longtail/src/data');
  const { prepareStoreFor } = await import('../../plugins/longtail/src/data/prepare-store');
  const { rngFor } = await import('../../plugins/longtail/src/data/rng');
  const { DecodePool, makeLoader } = await import('../../plugins/longtail/src/data');
  const { makeSampler } = await import('../../plugins/longtail/src/samplers');
  const cacheDir = join(root, 'bench/out/store-profile-cache');
  const spec = { kind: 'image-folder' as const, dataDir, cacheDir };
  type P = { side: number; format: 'jpeg' | 'raw'; quality: number };
  const stores: Array<P | null> = [null, { side: 256, format: 'raw', quality: 90 }, { side: 256, format: 'jpeg', quality: 90 }];
  const only = opt('--only', '');
  for (const p of stores) if (p) await prepareStoreFor(spec, { params: p, concurrency: 2 });
  if (only) stores.splice(0, stores.length, ...stores.filter((p) => (p ? p.format : 'originals') === only));
  const s = new Session();
  s.connect();
  await post(s, 'Profiler.enable');
  await post(s, 'Profiler.setSamplingInterval', { interval: 200 });
  for (const p of stores) {
    const d = p ? await loadDataset({ ...spec, prepared: p }) : await loadDataset({ ...spec, prepared: false });
    const ds = d.train;
    const name = p ? `store ${p.format} side ${p.side}` : 'originals 800x600';
    if (loader) {
      // one decode worker, batches of 64 (the bench's loader rows): the JS thread's profile is the loader's
      // side; the worker's CPU shows per thread
      const pool = new DecodePool(ds.workerRecipe!(), 1);
      const sampler = makeSampler('instance', ds.labels, ds.numClasses, { seed: 0 });
      const epoch = async (e: number) => {
        let n = 0;
        for await (const b of makeLoader(ds, sampler, { batchSize: 64, epoch: e, train: true, seed: 0, pool, strict: true })) n += b.n;
        return n;
      };
      await epoch(0);
      const n = await measure(name, s, () => epoch(1));
      await pool.close();
      void n;
      continue;
    }
    for (let i = 0; i < 20; i++) await ds.load(i, rngFor(1, i), true);
    await measure(name, s, async () => {
      for (let i = 0; i < nImages; i++) await ds.load(i % ds.size, rngFor(2, i), true);
      return nImages;
    });
  }
  s.disconnect();
})();
