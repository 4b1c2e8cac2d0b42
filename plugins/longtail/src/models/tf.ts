import { loadTf, type Tf } from '@iccl/tf-backend';
import type * as TfNode from '@tensorflow/tfjs-node';

export type Tensor = TfNode.Tensor;
export type Tensor1D = TfNode.Tensor1D;
export type Tensor2D = TfNode.Tensor2D;
export type Tensor4D = TfNode.Tensor4D;
export type Scalar = TfNode.Scalar;
export type Variable = TfNode.Variable;
export type NamedTensorMap = TfNode.NamedTensorMap;

/**
 * The TensorFlow.js handle, resolved at call time: the trainer picks the device with
 * `loadTf(params.device)` before any model is built, and every later call gets that same backend.
 */
export function tfx(): Tf {
  return loadTf();
}
