import { commitUpdates, discardUpdates, trainingPass } from './layers';
import { leanVariableGrads } from './lean-grads';
import { crossEntropy } from './losses';
import { Network, buildNetwork } from './network';
import { SgdMomentum } from './sgd';
import type { NamedVariable } from './store';
import { tfx, type Scalar, type Tensor1D, type Tensor4D } from './tf';

/**
 * One optimiser step on `lossFn`: gradients of the trained variables in `vars`, SGD update, then the
 * batch-norm running statistics of the pass. Returns the loss value (read back, which also waits
 * for the step to finish). Everything the step allocates is freed.
 */
export function sgdStep(vars: NamedVariable[], opt: SgdMomentum, lr: number, lossFn: (pass: ReturnType<typeof trainingPass>) => Scalar): number {
  const tf = tfx();
  const pass = trainingPass();
  const trained = vars.filter((v) => v.role !== 'state');
  let out: { value: Scalar; grads: Record<string, import('./tf').Tensor> };
  try {
    out = leanVariableGrads(() => lossFn(pass), trained.map((v) => v.variable));
  } catch (e) {
    discardUpdates(pass);
    throw e;
  }
  opt.apply(trained, out.grads, lr);
  commitUpdates(pass);
  const loss = out.value.dataSync()[0];
  out.value.dispose();
  tf.dispose(out.grads);
  return loss;
}

/** One SGD-momentum cross-entropy training step of a whole network on (x, y): the bench's unit of work. */
export function crossEntropyTrainStep(net: Network, opt: SgdMomentum, x: Tensor4D, y: Tensor1D, lr: number): number {
  return sgdStep(net.store.list(), opt, lr, (pass) => crossEntropy(net.logits(x, pass), y, net.numClasses));
}

/** ResNet-32 for 32x32x3 CIFAR inputs (the bench's and the CIFAR-LT protocols' network). */
export function buildResNet32(numClasses = 10, seed = 0): Network {
  return buildNetwork({ model: 'resnet32', inputShape: [32, 32, 3], numClasses, seed });
}

/** ResNet-50 for 224x224x3 inputs (iNaturalist 2018 protocol). */
export function buildResNet50(numClasses = 1000, seed = 0): Network {
  return buildNetwork({ model: 'resnet50', inputShape: [224, 224, 3], numClasses, seed });
}

/** ResNeXt-50 (32x4d) for 224x224x3 inputs (ImageNet-LT protocol). */
export function buildResNeXt50(numClasses = 1000, seed = 0): Network {
  return buildNetwork({ model: 'resnext50', inputShape: [224, 224, 3], numClasses, seed });
}
