// One side of bench/native/train-step.ts: our training step, in its own process.
import { loadTf } from '@iccl/tf-backend';
import { buildResNet32, buildResNet50, crossEntropyTrainStep, SgdMomentum } from '../../plugins/longtail/src/models';

const [model = 'resnet32', batchS = '128', stepsS = '10', warmupS = '2'] = process.argv.slice(2);
const batch = Number(batchS);
const tf = loadTf('cpu');
const numClasses = model === 'resnet32' ? 10 : 1000;
const net = model === 'resnet32' ? buildResNet32(numClasses) : buildResNet50(numClasses);
const size = model === 'resnet32' ? 32 : 224;
const opt = new SgdMomentum(0.9, 2e-4);
const x = tf.randomNormal([batch, size, size, 3]) as import('@tensorflow/tfjs-node').Tensor4D;
const y = tf.randomUniform([batch], 0, numClasses, 'int32') as import('@tensorflow/tfjs-node').Tensor1D;
for (let i = 0; i < Number(warmupS); i++) crossEntropyTrainStep(net, opt, x, y, 0.1);
const t0 = process.hrtime.bigint();
for (let i = 0; i < Number(stepsS); i++) crossEntropyTrainStep(net, opt, x, y, 0.1);
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
const tfv = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding?.TF_Version ?? 'n/a';
process.stdout.write(
  JSON.stringify({ model, batch, images_per_s: (batch * Number(stepsS)) / dt, peak_rss_mb: process.resourceUsage().maxRSS / 1024, tf: tfv }) + '\n',
);
