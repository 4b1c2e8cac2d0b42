import type { Backbone } from './backbone';
import { BatchNorm, Conv2d, InitSeeds, type Pass } from './layers';
import type { VariableStore } from './store';
import { tfx, type Tensor2D, type Tensor4D } from './tf';

/**
 * Three conv-BN-ReLU layers (the last two with stride 2) and global average pooling: sized for the
 * synthetic demo and for tests, where a CIFAR ResNet would cost minutes of CPU.
 */
export class SmallCnn implements Backbone {
  readonly name = 'small-cnn';
  readonly featureDim: number;
  private readonly convs: Conv2d[] = [];
  private readonly bns: BatchNorm[] = [];

  constructor(
    readonly store: VariableStore,
    inChannels: number,
    width = 16,
    seeds: InitSeeds = new InitSeeds(0),
  ) {
    const widths = [width, width * 2, width * 4];
    let c = inChannels;
    widths.forEach((w, i) => {
      this.convs.push(new Conv2d(store.scope(`conv${i + 1}`), seeds, c, w, 3, i === 0 ? 1 : 2));
      this.bns.push(new BatchNorm(store.scope(`bn${i + 1}`), w));
      c = w;
    });
    this.featureDim = c;
  }

  forward(x: Tensor4D, pass: Pass): Tensor2D {
    const tf = tfx();
    let y = x;
    this.convs.forEach((conv, i) => {
      y = tf.relu(this.bns[i].apply(conv.apply(y), pass));
    });
    return tf.mean(y, [1, 2]) as Tensor2D;
  }
}
