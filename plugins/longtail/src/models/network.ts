import type { Backbone } from './backbone';
import { InitSeeds, Linear, type Pass } from './layers';
import { ImageNetResNet } from './resnet';
import { CifarResNet } from './resnet-cifar';
import { SmallCnn } from './small-cnn';
import { VariableStore } from './store';
import { type Tensor2D, type Tensor4D } from './tf';

/** Names accepted by `model` parameters. CIFAR ResNets are `resnet<6n+2>`. */
export const MODEL_NAMES = ['small-cnn', 'resnet8', 'resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110', 'resnet50', 'resnext50'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface NetworkSpec {
  model: ModelName | string;
  /** [H, W, C] of the input */
  inputShape: [number, number, number];
  numClasses: number;
  /** initialisation seed */
  seed?: number;
  /** all-zero weights: for counting parameters and checking shapes without drawing 25M numbers */
  structureOnly?: boolean;
  /** small-cnn: channels of the first layer */
  width?: number;
  /** ResNets: recompute each residual stage in the backward pass instead of keeping its activations */
  recompute?: boolean;
}

function makeBackbone(spec: NetworkSpec, store: VariableStore): Backbone {
  const c = spec.inputShape[2];
  const seeds = new InitSeeds(spec.seed ?? 0, spec.structureOnly);
  const m = /^resnet(\d+)$/.exec(spec.model);
  const recompute = spec.recompute ?? false;
  if (spec.model === 'small-cnn') {
    if (recompute) throw new Error('recompute: small-cnn has no residual stages to recompute; it applies to resnet<6n+2>, resnet50 and resnext50');
    return new SmallCnn(store, c, spec.width ?? 16, seeds);
  }
  if (spec.model === 'resnet50') return new ImageNetResNet(store, c, { seeds, recompute });
  if (spec.model === 'resnext50') return new ImageNetResNet(store, c, { seeds, groups: 32, widthPerGroup: 4, recompute });
  if (m) return new CifarResNet(store, c, Number(m[1]), seeds, undefined, recompute);
  throw new Error(`model: got "${spec.model}", expected one of ${MODEL_NAMES.join(', ')} (or resnet<6n+2>)`);
}

/**
 * Backbone f (image -> pooled feature h) and linear classifier g (h -> K logits). Method-specific
 * heads (ICCL's projection) live with the method, in their own store.
 */
export class Network {
  readonly store = new VariableStore();
  readonly backbone: Backbone;
  readonly classifier: Linear;
  readonly numClasses: number;

  constructor(readonly spec: NetworkSpec) {
    this.numClasses = spec.numClasses;
    this.backbone = makeBackbone(spec, this.store.scope('backbone'));
    this.classifier = new Linear(this.store.scope('classifier'), new InitSeeds((spec.seed ?? 0) + 1, spec.structureOnly), this.backbone.featureDim, spec.numClasses);
  }

  get featureDim(): number {
    return this.backbone.featureDim;
  }

  features(x: Tensor4D, pass: Pass): Tensor2D {
    return this.backbone.forward(x, pass);
  }

  logits(x: Tensor4D, pass: Pass): Tensor2D {
    return this.classifier.apply(this.backbone.forward(x, pass));
  }

  dispose(): void {
    this.store.dispose();
  }
}

/** Builds a network; the bench and the trainers call this. */
export function buildNetwork(spec: NetworkSpec): Network {
  return new Network(spec);
}
