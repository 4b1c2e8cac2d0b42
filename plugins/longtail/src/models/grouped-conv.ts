import { nativeBackend } from './native-ops';
import { tfx, type Tensor, type Tensor4D } from './tf';

/**
 * Grouped 2-D convolution (ResNeXt) as one native Conv2D, with its native gradients: TensorFlow
 * convolves groups when the kernel's input depth divides the input's, but tfjs's conv2d asserts equal
 * depths. Null when the backend is not native TensorFlow (the caller splits channels instead).
 */
export function nativeGroupedConv2d(x: Tensor4D, kernel: Tensor4D, stride: number): Tensor4D | null {
  const backend = nativeBackend();
  if (!backend) return null;
  const tf = tfx();
  const B = backend.binding;
  const attrs = [
    { name: 'T', type: B.TF_ATTR_TYPE, value: B.TF_FLOAT },
    { name: 'strides', type: B.TF_ATTR_INT, value: [1, stride, stride, 1] },
    { name: 'padding', type: B.TF_ATTR_STRING, value: 'SAME' },
    { name: 'data_format', type: B.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'use_cudnn_on_gpu', type: B.TF_ATTR_BOOL, value: true },
    { name: 'dilations', type: B.TF_ATTR_INT, value: [1, 1, 1, 1] },
    { name: 'explicit_paddings', type: B.TF_ATTR_INT, value: [] },
  ];
  const op = tf.customGrad(((xi: Tensor, k: Tensor, save: (t: Tensor[]) => void) => {
    save([xi, k]);
    return {
      value: backend.executeSingleOutput('Conv2D', attrs, [xi, k]),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sk] = saved;
        const xShape = tf.tensor1d(sx.shape, 'int32');
        const kShape = tf.tensor1d(sk.shape, 'int32');
        const dx = backend.executeSingleOutput('Conv2DBackpropInput', attrs, [xShape, sk, dy]);
        const dk = backend.executeSingleOutput('Conv2DBackpropFilter', attrs, [sx, kShape, dy]);
        xShape.dispose();
        kShape.dispose();
        return [dx, dk];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, kernel) as Tensor4D;
}
