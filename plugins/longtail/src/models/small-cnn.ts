import type { Backbone } from './backbone';
import { BatchNorm, Conv2d, InitSeeds, type Pass } from './layers';
import type { VariableStore } from './store';
import { tfx, type Tensor2D, type Tensor4D } from './tf';

/**
 * Four 3x3 conv-BN-ReLU layers, the first three followed by 2x2 max pooling (max pooling learns the
 * synthetic shapes much faster than strided convolutions), then global average pooling: sized for
 * the synthetic demo and for tests, where a CIFAR ResNet would cost minutes of CPU.
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
    const widths = [width, width * 2, width * 4, width * 4];
    let c = inChannels;
    widths.forEach((w, i) => {
      this.convs.push(new Conv2d(store.scope(`conv${i + 1}`), seeds, c, w, 3, 1));
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
      if (i < this.convs.length - 1 && y.shape[1] >= 2) y = tf.maxPool(y, 2, 2, 'valid');
    });
    return tf.mean(y, [1, 2]) as Tensor2D;
  }
}
