import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { backendInfo, backendTags, cudaDevicePresent, loadTf, parseDevice } from '../src';

describe('native backend', () => {
  it('loads libtensorflow through tfjs-node on the CPU by default', () => {
    const tf = loadTf('cpu');
    expect(tf.getBackend()).toBe('tensorflow');
    const info = backendInfo();
    expect(info.package).toBe('@tensorflow/tfjs-node');
    expect(info.tensorflowVersion).toMatch(/^2\.\d+\.\d+/);
    expect(backendTags()['tf.backend']).toBe('tensorflow');
  });

  it('trains a small CNN for a few steps and the loss falls', () => {
    const tf = loadTf('cpu');
    tf.setBackend('tensorflow');
    // A learnable toy task: the class is which image half is brighter.
    const n = 64;
    const xs = tf.tidy(() => {
      const base = tf.randomUniform([n, 8, 8, 1], 0, 0.2, 'float32', 1);
      const y = tf.range(0, n).mod(2);
      const mask = tf.concat([tf.ones([n, 8, 4, 1]), tf.zeros([n, 8, 4, 1])], 2);
      const flipped = tf.reverse(mask, 2);
      const m = tf.where(y.reshape([n, 1, 1, 1]).cast('bool').tile([1, 8, 8, 1]), mask, flipped);
      return base.add(m.mul(0.8));
    });
    const ys = tf.oneHot(tf.range(0, n).mod(2).cast('int32'), 2);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu', seed: 1 } as never),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    const opt = tf.train.sgd(0.5);
    const lossAt = () => tf.tidy(() => tf.losses.softmaxCrossEntropy(ys, model.predict(xs) as never).dataSync()[0]);
    const before = lossAt();
    for (let i = 0; i < 20; i++) {
      opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as never) as never);
    }
    const after = lossAt();
    expect(Number.isFinite(before)).toBe(true);
    expect(after).toBeLessThan(before * 0.7);
  });

  it('rejects an unknown device with one line naming the choices', () => {
    expect(() => parseDevice('tpu')).toThrow('device: got "tpu", expected one of auto, cpu, gpu, js');
  });

  it('--device gpu without a CUDA device fails with one clear line', () => {
    if (cudaDevicePresent()) return; // on a GPU machine this case does not arise (the GPU path is then exercised instead)
    const script = `require(${JSON.stringify(path.join(__dirname, '../src/index.ts'))}).loadTf('gpu')`;
    let stderr = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      stderr = String((e as { stderr?: string }).stderr);
    }
    expect(stderr).toContain('device gpu: no CUDA device found');
  });
});
