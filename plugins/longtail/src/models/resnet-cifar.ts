import type { Backbone } from './backbone';
import { BatchNorm, Conv2d, InitSeeds, addSameShape, type Pass } from './layers';
import { ResidualStages } from './recompute';
import type { VariableStore } from './store';
import { tfx, type Tensor2D, type Tensor4D } from './tf';

/**
 * Basic block of the CIFAR ResNets (He et al. 2016, section 4.2): two 3x3 convolutions, and the
 * parameter-free "option A" shortcut (subsample by 2, zero-pad the new channels) when the shape
 * changes, which is what keeps ResNet-32 at 0.46M parameters as in the long-tail literature.
 */
class CifarBasicBlock {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly padChannels: number;

  constructor(store: VariableStore, seeds: InitSeeds, inC: number, outC: number, readonly stride: number) {
    this.conv1 = new Conv2d(store.scope('conv1'), seeds, inC, outC, 3, stride, 'fan_in');
    this.bn1 = new BatchNorm(store.scope('bn1'), outC);
    this.conv2 = new Conv2d(store.scope('conv2'), seeds, outC, outC, 3, 1, 'fan_in');
    this.bn2 = new BatchNorm(store.scope('bn2'), outC);
    this.padChannels = outC - inC;
  }

  apply(x: Tensor4D, pass: Pass): Tensor4D {
    // tidy: the block's intermediates the tape does not keep are freed here, not at the end of the pass.
    return tfx().tidy(() => this.compute(x, pass));
  }

  private compute(x: Tensor4D, pass: Pass): Tensor4D {
    const tf = tfx();
    let y = tf.relu(this.bn1.apply(this.conv1.apply(x), pass));
    y = this.bn2.apply(this.conv2.apply(y), pass);
    let s = x;
    if (this.stride !== 1) s = tf.avgPool(s, 1, this.stride, 'valid'); // 1x1 window: x[:, ::2, ::2, :]
    if (this.padChannels > 0) {
      const lo = Math.floor(this.padChannels / 2);
      s = tf.pad(s, [
        [0, 0],
        [0, 0],
        [0, 0],
        [lo, this.padChannels - lo],
      ]);
    }
    return tf.relu(addSameShape(y, s));
  }
}

/** ResNet of depth 6n+2 for 32x32 inputs: 16-32-64 channels, n blocks per stage. */
export class CifarResNet implements Backbone {
  readonly name: string;
  readonly featureDim: number;
  private readonly stem: Conv2d;
  private readonly stemBn: BatchNorm;
  private readonly stages: ResidualStages;

  constructor(
    readonly store: VariableStore,
    inChannels: number,
    readonly depth = 32,
    seeds: InitSeeds = new InitSeeds(0),
    widths: [number, number, number] = [16, 32, 64],
    /** recompute each residual stage in the backward pass instead of keeping its activations (see recompute.ts) */
    recompute = false,
  ) {
    if ((depth - 2) % 6 !== 0 || depth < 8) throw new Error(`CIFAR ResNet depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110), got ${depth}`);
    const n = (depth - 2) / 6;
    this.name = `resnet${depth}`;
    this.stem = new Conv2d(store.scope('stem'), seeds, inChannels, widths[0], 3, 1, 'fan_in');
    this.stemBn = new BatchNorm(store.scope('stem_bn'), widths[0]);
    this.stages = new ResidualStages(recompute);
    let c = widths[0];
    widths.forEach((w, stage) => {
      const stageStore = store.scope(`stage${stage + 1}`);
      const blocks: CifarBasicBlock[] = [];
      for (let b = 0; b < n; b++) {
        const stride = stage > 0 && b === 0 ? 2 : 1;
        blocks.push(new CifarBasicBlock(stageStore.scope(`block${b + 1}`), seeds, c, w, stride));
        c = w;
      }
      this.stages.add(blocks, stageStore);
    });
    this.featureDim = c;
  }

  forward(x: Tensor4D, pass: Pass): Tensor2D {
    const tf = tfx();
    let y = tf.tidy(() => tf.relu(this.stemBn.apply(this.stem.apply(x), pass)));
    y = this.stages.apply(y, pass);
    return tf.mean(y, [1, 2]) as Tensor2D;
  }
}
