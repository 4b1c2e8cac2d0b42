/**
 * Builds the expensive, reusable data artefacts once:
 *   npx tsx plugins/longtail/src/data/prepare-cli.ts cifar10 [--cache-dir DIR] [--tarball FILE]
 *   npx tsx plugins/longtail/src/data/prepare-cli.ts inat18 --data-dir DIR [--format json|txt] [store options]
 *   npx tsx plugins/longtail/src/data/prepare-cli.ts imagenet-lt --data-dir DIR [--list-dir DIR] [store options]
 *   npx tsx plugins/longtail/src/data/prepare-cli.ts image-folder --data-dir DIR [store options]
 * store options: [--side 256] [--store-format jpeg|raw] [--quality 90] [--cache-dir DIR] [--no-store]
 * Prints what was prepared and whether it was already there; a second run with unchanged inputs only
 * checks the store (every shard's records against their CRCs) and rewrites what is missing or damaged.
 */
import { consoleLogger } from '@iccl/trainer-api';
import { prepareCifar10Jpeg, prepareInat18Index, sharedCifar10Tarball } from './prepare';
import { prepareStoreFor } from './prepare-store';
import type { DatasetKind } from './types';

function option(args: string[], name: string): string | undefined {
  // Both `--name value` and `--name=value` (the form Nx forwards).
  const eq = args.find((a) => a.startsWith(`${name}=`));
  if (eq !== undefined) return eq.slice(name.length + 1);
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`${name}: missing value`);
  return v;
}

function intOption(args: string[], name: string): number | undefined {
  const v = option(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`${name} = ${JSON.stringify(v)}: expected a positive integer`);
  return Number(v);
}

async function storeMain(kind: DatasetKind, dataDir: string, rest: string[], t0: number): Promise<void> {
  if (rest.includes('--no-store')) return;
  const format = option(rest, '--store-format');
  if (format !== undefined && format !== 'jpeg' && format !== 'raw') throw new Error(`--store-format = ${JSON.stringify(format)}: expected jpeg or raw`);
  const params = { side: intOption(rest, '--side'), format, quality: intOption(rest, '--quality') };
  const defined = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  const log = consoleLogger('prepare');
  const spec = { kind, dataDir, cacheDir: option(rest, '--cache-dir'), listDir: option(rest, '--list-dir'), inatFormat: option(rest, '--format') as 'json' | 'txt' | undefined };
  const r = await prepareStoreFor(spec, { params: defined, log });
  const state = r.built + r.rebuilt === 0 ? 'cached' : `built ${r.built}, rebuilt ${r.rebuilt}, kept ${r.kept} shards`;
  process.stdout.write(`${r.dir}\t${state}\t${Date.now() - t0} ms\t${r.items} images\t${r.failedImages} undecodable\n`);
}

export async function prepareMain(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  const log = consoleLogger('prepare');
  const t0 = Date.now();
  if (what === 'cifar10') {
    if (rest.includes('--if-present') && !option(rest, '--tarball') && !sharedCifar10Tarball()) {
      process.stdout.write('no shared CIFAR-10 archive on this machine: nothing to prepare\n');
      return 0;
    }
    const r = await prepareCifar10Jpeg({ cacheDir: option(rest, '--cache-dir'), tarball: option(rest, '--tarball'), log });
    process.stdout.write(`${r.path}\t${r.cached ? 'cached' : 'built'}\t${Date.now() - t0} ms\n`);
    return 0;
  }
  if (what === 'inat18' || what === 'imagenet-lt' || what === 'image-folder') {
    const dataDir = option(rest, '--data-dir');
    // Under Nx the search target checks the data itself and says what it expects.
    if (!dataDir && rest.includes('--if-present')) return 0;
    if (!dataDir) throw new Error(`--data-dir: missing: expected the folder of the ${what} data set`);
    if (what === 'inat18') {
      const format = option(rest, '--format');
      if (format !== undefined && format !== 'json' && format !== 'txt') throw new Error(`--format = ${JSON.stringify(format)}: expected json or txt`);
      const r = await prepareInat18Index(dataDir, { format, cacheDir: option(rest, '--cache-dir'), log });
      const v = r.value;
      process.stdout.write(`${r.path}\t${r.cached ? 'cached' : 'built'}\t${Date.now() - t0} ms\t${v.classNames.length} classes\t${v.train.paths.length} train\t${v.val.paths.length} val\n`);
    }
    await storeMain(what, dataDir, rest, Date.now());
    return 0;
  }
  process.stderr.write('usage: prepare-cli.ts cifar10 [--cache-dir DIR] [--tarball FILE] | inat18|imagenet-lt|image-folder --data-dir DIR [--format json|txt] [--list-dir DIR] [--side N] [--store-format jpeg|raw] [--quality Q] [--cache-dir DIR] [--no-store]\n');
  return 2;
}

if (require.main === module) {
  prepareMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`prepare: ${e.message}\n`);
      process.exit(1);
    },
  );
}
