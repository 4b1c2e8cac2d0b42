import { nativeBackend } from './native-ops';
import { tfx, type Tensor } from './tf';

type GradConfig = Parameters<ReturnType<typeof tfx>['registerGradient']>[0];

let replaced: GradConfig[] | null = null;
let switchedOff = false;

/**
 * Swaps tfjs's composite gradients for single native TensorFlow ops where TensorFlow has one:
 * ReLU's gradient is ReluGrad (tfjs builds it from Greater, IsNan, Select, Fill and Mul: six
 * kernel launches and four temporaries per ReLU). Same arithmetic: dy where x > 0, else 0. It keeps
 * the ReLU's output rather than its input (ReluGrad accepts either: y > 0 exactly where x > 0), and
 * the output is what the next convolution keeps anyway, so the tape holds one copy, not two.
 * Idempotent; a no-op off the native backend or after `setNativeGradients(false)`. Every training
 * pass calls it, so any step built from the models gets it.
 */
export function useNativeGradients(): void {
  if (replaced || switchedOff) return;
  const backend = nativeBackend();
  if (!backend) return;
  const tf = tfx();
  const B = backend.binding;
  const previous = tf.getGradient('Relu');
  if (!previous) return;
  replaced = [previous];
  tf.registerGradient({
    kernelName: 'Relu',
    outputsToSave: [true],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [y] = saved;
      const attrs = [{ name: 'T', type: B.TF_ATTR_TYPE, value: B.TF_FLOAT }];
      return { x: () => backend.executeSingleOutput('ReluGrad', attrs, [dy as Tensor, y]) };
    },
  } as GradConfig);
}

/** false: tfjs's own gradients back and kept (the tests compare both paths); true: native again. */
export function setNativeGradients(on: boolean): void {
  switchedOff = !on;
  if (on) return useNativeGradients();
  if (!replaced) return;
  const tf = tfx();
  for (const g of replaced) tf.registerGradient(g);
  replaced = null;
}
