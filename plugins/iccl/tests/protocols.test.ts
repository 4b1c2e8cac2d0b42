import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateParams, type TrainerPlugin } from '@iccl/trainer-api';
import { PROTOCOLS_DIR, readProtocol } from '@iccl/longtail';
import { plugin as baselines, plugins } from '../../baselines/src';
import { plugin } from '../src';

const files = fs.readdirSync(PROTOCOLS_DIR).filter((f) => f.endsWith('.json'));

describe('protocol files (configs/)', () => {
  it('ship the four benchmark protocols, a smoke variant of each, and the synthetic demo', () => {
    for (const n of ['cifar10-lt', 'cifar100-lt', 'imagenet-lt', 'inat18', 'synthetic']) {
      expect(files).toContain(`${n}.json`);
      expect(files).toContain(`${n}.smoke.json`);
    }
  });

  it.each(files)('%s validates against every trainer (ICCL and the baselines share its parameter names)', (f) => {
    const p = readProtocol(f.replace(/\.json$/, ''));
    for (const pl of [plugin, plugins.ce, plugins.crt, plugins.mixup, baselines] as TrainerPlugin[]) {
      expect(() => validateParams(pl.params, p.params)).not.toThrow();
    }
  });

  it('the benchmark protocols carry the table of ICCL.md', () => {
    const c = readProtocol('cifar100-lt').params;
    expect([c.model, c.epochs, c.batchSize, c.lr, c.warmupEpochs, c.lrSteps, c.weightDecay]).toEqual(['resnet32', 200, 128, 0.1, 5, '160:0.01,180:0.0001', 0.0002]);
    const i = readProtocol('imagenet-lt').params;
    expect([i.model, i.epochs, i.batchSize, i.lr, i.schedule, i.weightDecay]).toEqual(['resnext50', 90, 512, 0.2, 'cosine', 0.0005]);
    const n = readProtocol('inat18').params;
    expect([n.model, n.epochs, n.batchSize, n.lr, n.schedule, n.weightDecay, n.crtEpochs]).toEqual(['resnet50', 90, 512, 0.2, 'cosine', 0.0001, 30]);
  });

  it('a malformed protocol gets one line naming the file and the field', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'proto-')), 'bad.json');
    fs.writeFileSync(f, JSON.stringify({ lr: [0.1] }));
    expect(() => readProtocol(f)).toThrow(/bad\.json: field "lr": got \[0\.1\], expected a string, number or boolean/);
  });
});
