import { nativeBackend } from './native-ops';
import { tfx, type Tensor, type Tensor1D, type Tensor4D } from './tf';

export interface FusedBnOutput {
  y: Tensor4D;
  /** batch mean and Bessel-corrected batch variance (what running statistics track) */
  mean: Tensor1D;
  variance: Tensor1D;
}

/**
 * Training-mode batch norm as ONE native op (FusedBatchNormV3, is_training) with its native gradient
 * (FusedBatchNormGradV3). tfjs composes training batch norm from moments + a dozen element-wise ops
 * each way, which dominated the ResNet training step; this is the same arithmetic in two kernels.
 * Returns null when the backend is not native TensorFlow (the caller falls back to the composite).
 */
export function fusedBatchNormTraining(x: Tensor4D, gamma: Tensor1D, beta: Tensor1D, epsilon: number): FusedBnOutput | null {
  const backend = nativeBackend();
  if (!backend) return null;
  const tf = tfx();
  const B = backend.binding;
  const attrs = [
    { name: 'T', type: B.TF_ATTR_TYPE, value: B.TF_FLOAT },
    { name: 'U', type: B.TF_ATTR_TYPE, value: B.TF_FLOAT },
    { name: 'epsilon', type: B.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: B.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: B.TF_ATTR_BOOL, value: true },
  ];
  let mean: Tensor1D | null = null;
  let variance: Tensor1D | null = null;
  const op = tf.customGrad(((xi: Tensor, g: Tensor, b: Tensor, save: (t: Tensor[]) => void) => {
    const empty = tf.tensor1d([], 'float32');
    const outs = backend.executeMultipleOutputs(
      'FusedBatchNormV3',
      [...attrs, { name: 'exponential_avg_factor', type: B.TF_ATTR_FLOAT, value: 1 }],
      [xi, g, b, empty, empty],
      6,
    );
    empty.dispose();
    mean = tf.keep(outs[1]) as Tensor1D;
    variance = tf.keep(outs[2]) as Tensor1D;
    save([xi, g, outs[3], outs[4], outs[5]]);
    return {
      value: outs[0],
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sg, r1, r2, r3] = saved;
        const grads = backend.executeMultipleOutputs('FusedBatchNormGradV3', attrs, [dy, sx, sg, r1, r2, r3], 5);
        grads[3].dispose();
        grads[4].dispose();
        return [grads[0], grads[1], grads[2]];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, gamma, beta) as Tensor4D;
  return { y, mean: mean!, variance: variance! };
}
