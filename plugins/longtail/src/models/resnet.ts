import type { Backbone } from './backbone';
import { BatchNorm, Conv2d, GroupedConv2d, InitSeeds, addSameShape, type Pass } from './layers';
import { ResidualStages } from './recompute';
import type { VariableStore } from './store';
import { tfx, type Tensor2D, type Tensor4D } from './tf';

/** Bottleneck block (1x1, 3x3 with the stride, 1x1 x4), torchvision's "v1.5" layout; `groups` > 1 is ResNeXt. */
class Bottleneck {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: GroupedConv2d;
  private readonly bn2: BatchNorm;
  private readonly conv3: Conv2d;
  private readonly bn3: BatchNorm;
  private readonly down: { conv: Conv2d; bn: BatchNorm } | null;

  constructor(store: VariableStore, seeds: InitSeeds, inC: number, width: number, outC: number, stride: number, groups: number) {
    this.conv1 = new Conv2d(store.scope('conv1'), seeds, inC, width, 1);
    this.bn1 = new BatchNorm(store.scope('bn1'), width);
    this.conv2 = new GroupedConv2d(store.scope('conv2'), seeds, width, width, 3, stride, groups);
    this.bn2 = new BatchNorm(store.scope('bn2'), width);
    this.conv3 = new Conv2d(store.scope('conv3'), seeds, width, outC, 1);
    this.bn3 = new BatchNorm(store.scope('bn3'), outC);
    this.down =
      stride !== 1 || inC !== outC
        ? { conv: new Conv2d(store.scope('down'), seeds, inC, outC, 1, stride), bn: new BatchNorm(store.scope('down_bn'), outC) }
        : null;
  }

  apply(x: Tensor4D, pass: Pass): Tensor4D {
    // tidy: the block's intermediates the tape does not keep are freed here, not at the end of the pass.
    return tfx().tidy(() => this.compute(x, pass));
  }

  private compute(x: Tensor4D, pass: Pass): Tensor4D {
    const tf = tfx();
    let y = tf.relu(this.bn1.apply(this.conv1.apply(x), pass));
    y = tf.relu(this.bn2.apply(this.conv2.apply(y), pass));
    y = this.bn3.apply(this.conv3.apply(y), pass);
    const s = this.down ? this.down.bn.apply(this.down.conv.apply(x), pass) : x;
    return tf.relu(addSameShape(y, s));
  }
}

export interface ImageNetResNetOptions {
  /** blocks per stage: [3, 4, 6, 3] is ResNet-50 */
  layers?: [number, number, number, number];
  /** ResNeXt cardinality (32 for ResNeXt-50 32x4d); 1 for ResNet */
  groups?: number;
  /** channels per group in the first stage (4 for 32x4d); ResNet uses 64 with groups 1 */
  widthPerGroup?: number;
  seeds?: InitSeeds;
  /** recompute each residual stage in the backward pass instead of keeping its activations (see recompute.ts) */
  recompute?: boolean;
}

/** ResNet-50 / ResNeXt-50 for 224x224 inputs; pooled feature of 2048. */
export class ImageNetResNet implements Backbone {
  readonly name: string;
  readonly featureDim: number;
  private readonly stem: Conv2d;
  private readonly stemBn: BatchNorm;
  private readonly stages: ResidualStages;

  constructor(
    readonly store: VariableStore,
    inChannels: number,
    options: ImageNetResNetOptions = {},
  ) {
    const layers = options.layers ?? [3, 4, 6, 3];
    const groups = options.groups ?? 1;
    const widthPerGroup = options.widthPerGroup ?? 64;
    const seeds = options.seeds ?? new InitSeeds(0);
    this.stages = new ResidualStages(options.recompute ?? false);
    this.name = groups > 1 ? `resnext50_${groups}x${widthPerGroup}d` : 'resnet50';
    this.stem = new Conv2d(store.scope('stem'), seeds, inChannels, 64, 7, 2);
    this.stemBn = new BatchNorm(store.scope('stem_bn'), 64);
    let c = 64;
    [64, 128, 256, 512].forEach((planes, stage) => {
      const width = Math.floor(planes * (widthPerGroup / 64)) * groups;
      const stageStore = store.scope(`stage${stage + 1}`);
      const blocks: Bottleneck[] = [];
      for (let b = 0; b < layers[stage]; b++) {
        const stride = stage > 0 && b === 0 ? 2 : 1;
        blocks.push(new Bottleneck(stageStore.scope(`block${b + 1}`), seeds, c, width, planes * 4, stride, groups));
        c = planes * 4;
      }
      this.stages.add(blocks, stageStore);
    });
    this.featureDim = c;
  }

  forward(x: Tensor4D, pass: Pass): Tensor2D {
    const tf = tfx();
    let y = tf.tidy(() => tf.maxPool(tf.relu(this.stemBn.apply(this.stem.apply(x), pass)), 3, 2, 'same'));
    y = this.stages.apply(y, pass);
    return tf.mean(y, [1, 2]) as Tensor2D;
  }
}
