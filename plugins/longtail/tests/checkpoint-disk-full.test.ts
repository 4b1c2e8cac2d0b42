import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTf } from '@iccl/tf-backend';
import { loadTensors, saveTensors } from '../src/models';
import { mountTinyDisk, unmountTinyDisk } from '../../../tools/faults/tiny-disk';

const tf = loadTf('cpu');

describe('checkpoint on a full disk', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-ckpt-full-'));
  let mounted = false;
  afterAll(() => {
    if (mounted) unmountTinyDisk(root);
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('one error naming the folder and ENOSPC; the previous checkpoint stays whole; no partial copy left', async () => {
    mountTinyDisk(root, '64k');
    mounted = true;
    const dir = path.join(root, 'checkpoint');
    const small = tf.tensor1d([1, 2, 3, 4]);
    await saveTensors(dir, [{ name: 'w', tensor: small }], { epochsDone: 1 });

    const big = tf.zeros([64 * 1024]); // 256 KiB of float32: cannot fit in 64 KiB
    const err = await saveTensors(dir, [{ name: 'w', tensor: big }], { epochsDone: 2 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toContain(path.resolve(dir));
    expect(err!.message).toContain('no space left on device (ENOSPC)');
    expect(err!.message).toContain('the previous copy there is kept');

    const { tensors, metadata } = await loadTensors(dir);
    expect(metadata).toEqual({ epochsDone: 1 });
    expect(Array.from(tensors.get('w')!.dataSync())).toEqual([1, 2, 3, 4]);
    expect(fs.readdirSync(root).sort()).toEqual(['checkpoint']);
    small.dispose();
    big.dispose();
    for (const t of tensors.values()) t.dispose();
  });
});
