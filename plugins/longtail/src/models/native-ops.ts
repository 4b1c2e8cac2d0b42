import { tfx, type Tensor } from './tf';

/** The parts of tfjs-node's backend used to call TensorFlow ops that tfjs does not expose. */
export interface NativeBackend {
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_FLOAT: number;
    TF_ATTR_STRING: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_INT: number;
    TF_FLOAT: number;
  };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: Tensor[]): Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: Tensor[], n: number): Tensor[];
}

export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** The native TensorFlow backend, or null under another backend (callers then fall back to tfjs ops). */
export function nativeBackend(): NativeBackend | null {
  const tf = tfx();
  if (tf.getBackend() !== 'tensorflow') return null;
  const b = tf.backend() as unknown as Partial<NativeBackend>;
  return typeof b.executeMultipleOutputs === 'function' && typeof b.executeSingleOutput === 'function' && b.binding ? (b as NativeBackend) : null;
}
