/**
 * Builds the expensive, reusable data artefacts once:
 *   npx tsx plugins/longtail/src/data/prepare-cli.ts cifar10 [--cache-dir DIR] [--tarball FILE]
 *   npx tsx plugins/longtail/src/data/prepare-cli.ts inat18 --data-dir DIR [--format json|txt] [--cache-dir DIR]
 * Prints the prepared path and whether it was already there; a second run with unchanged inputs is instant.
 */
import { consoleLogger } from '@iccl/trainer-api';
import { prepareCifar10Jpeg, prepareInat18Index, sharedCifar10Tarball } from './prepare';

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
  if (what === 'inat18') {
    const dataDir = option(rest, '--data-dir');
    // Under Nx the search target checks the data itself and says what it expects.
    if (!dataDir && rest.includes('--if-present')) return 0;
    if (!dataDir) throw new Error('--data-dir: missing: expected the folder with train2018.json / val2018.json or the iNaturalist18_*.txt lists');
    const format = option(rest, '--format');
    if (format !== undefined && format !== 'json' && format !== 'txt') throw new Error(`--format = ${JSON.stringify(format)}: expected json or txt`);
    const r = await prepareInat18Index(dataDir, { format, cacheDir: option(rest, '--cache-dir'), log });
    const v = r.value;
    process.stdout.write(`${r.path}\t${r.cached ? 'cached' : 'built'}\t${Date.now() - t0} ms\t${v.classNames.length} classes\t${v.train.paths.length} train\t${v.val.paths.length} val\n`);
    return 0;
  }
  process.stderr.write('usage: prepare-cli.ts cifar10 [--cache-dir DIR] [--tarball FILE] | inat18 --data-dir DIR [--format json|txt] [--cache-dir DIR]\n');
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
