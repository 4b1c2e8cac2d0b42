import { nativeBackend } from './native-ops';
import { tfx, type Tensor, type Tensor4D } from './tf';

/**
 * Grouped 2-D convolution (ResNeXt) as one native Conv2D, with its native gradients: TensorFlow
 * convolves groups when the kernel's input depth divides the input's, but tfjs's conv2d asserts equal
 * depths. Null when the backend is not native TensorFlow (the caller splits channels instead).
 */
/** Whether this libtensorflow computes grouped-convolution gradients in one op (null: not tried yet). */
let groupedBackprop: boolean | null = null;

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
  const backpropBoth = (sx: Tensor, sk: Tensor, dy: Tensor): [Tensor, Tensor] => {
    const xShape = tf.tensor1d(sx.shape, 'int32');
    const kShape = tf.tensor1d(sk.shape, 'int32');
    try {
      return [
        backend.executeSingleOutput('Conv2DBackpropInput', attrs, [xShape, sk, dy]),
        backend.executeSingleOutput('Conv2DBackpropFilter', attrs, [sx, kShape, dy]),
      ];
    } finally {
      xShape.dispose();
      kShape.dispose();
    }
  };
  const op = tf.customGrad(((xi: Tensor, k: Tensor, save: (t: Tensor[]) => void) => {
    save([xi, k]);
    return {
      value: backend.executeSingleOutput('Conv2D', attrs, [xi, k]),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sk] = saved;
        if (groupedBackprop !== false) {
          try {
            const r = backpropBoth(sx, sk, dy);
            groupedBackprop = true;
            return r;
          } catch (e) {
            if (groupedBackprop === true) throw e;
            // The oneDNN kernels (on by default, see tf-backend) have no grouped gradients.
            groupedBackprop = false;
          }
        }
        const groups = sx.shape[3]! / sk.shape[2]!;
        const xs = tf.split(sx, groups, 3);
        const ks = tf.split(sk, groups, 3);
        const dys = tf.split(dy, groups, 3);
        const parts = xs.map((xg, g) => backpropBoth(xg, ks[g], dys[g]));
        const dx = tf.concat(parts.map((p) => p[0]), 3);
        const dk = tf.concat(parts.map((p) => p[1]), 3);
        tf.dispose([...xs, ...ks, ...dys, ...parts.flat()]);
        return [dx, dk];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, kernel) as Tensor4D;
}
