import type * as TfNode from '@tensorflow/tfjs-node';
import { BackendError, cudaDevicePresent, packageInstalled, parseDevice, type Device } from './device';

export type Tf = typeof TfNode;

export interface BackendInfo {
  /** Requested device. */
  requested: Device;
  /** What runs: 'tensorflow' (native) or 'cpu' (pure JavaScript). */
  backend: string;
  device: 'cpu' | 'gpu';
  package: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs';
  tfjsVersion: string;
  /** Version of the native libtensorflow, when native. */
  tensorflowVersion: string | null;
}

interface NativeBackend {
  binding?: { TF_Version?: string };
  isUsingGpuDevice?: boolean;
}

let loaded: { tf: Tf; info: BackendInfo } | null = null;

function quietNativeLogs(): void {
  // libtensorflow prints oneDNN/CPU-feature notices at INFO on every start; keep warnings and errors.
  if (process.env.TF_CPP_MIN_LOG_LEVEL === undefined) process.env.TF_CPP_MIN_LOG_LEVEL = '1';
}

function preferOneDnn(): void {
  // The libtensorflow we ship (from the TensorFlow wheel) has the oneDNN CPU kernels but, loaded
  // through the C API, leaves them off unless asked: measured 2x faster convolutions forward and
  // backward on this CPU (bench/results/profile.md). An explicit TF_ENABLE_ONEDNN_OPTS=0 still wins.
  if (process.env.TF_ENABLE_ONEDNN_OPTS === undefined) process.env.TF_ENABLE_ONEDNN_OPTS = '1';
}

function loadNative(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu', requested: Device): { tf: Tf; info: BackendInfo } {
  quietNativeLogs();
  preferOneDnn();
  let tf: Tf;
  try {
    tf = require(pkg) as Tf;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new BackendError(
      `${pkg} could not be loaded (${why}); run \`bash tools/setup.sh${pkg.endsWith('-gpu') ? ' --gpu' : ''}\` to install the native backend`,
    );
  }
  const backend = tf.backend() as unknown as NativeBackend;
  const onGpu = backend.isUsingGpuDevice === true;
  if (pkg === '@tensorflow/tfjs-node-gpu' && !onGpu) {
    throw new BackendError(
      'device gpu: @tensorflow/tfjs-node-gpu loaded but TensorFlow found no usable CUDA device (check the driver with nvidia-smi and the CUDA libraries staged by `bash tools/setup.sh --gpu`); use --device cpu to train on the CPU',
    );
  }
  return {
    tf,
    info: {
      requested,
      backend: tf.getBackend(),
      device: onGpu ? 'gpu' : 'cpu',
      package: pkg,
      tfjsVersion: tf.version.tfjs ?? 'unknown',
      tensorflowVersion: backend.binding?.TF_Version ?? null,
    },
  };
}

function loadPureJs(requested: Device): { tf: Tf; info: BackendInfo } {
  process.stderr.write(
    '\n*** WARNING: --device js selects the pure-JavaScript backend: hundreds of times slower than native TensorFlow, for debugging only. ***\n\n',
  );
  const tf = require('@tensorflow/tfjs') as Tf;
  return {
    tf,
    info: { requested, backend: tf.getBackend(), device: 'cpu', package: '@tensorflow/tfjs', tfjsVersion: tf.version.tfjs, tensorflowVersion: null },
  };
}

/**
 * Loads TensorFlow.js for `device` once per process and returns it.
 * - cpu: native libtensorflow through @tensorflow/tfjs-node;
 * - gpu: @tensorflow/tfjs-node-gpu, failing with one clear line when it or a CUDA device is missing;
 * - auto: gpu when both the package and a CUDA device are present, else native cpu;
 * - js: the pure-JavaScript backend, only on explicit request, with a loud warning.
 * A process holds one backend: asking later for a different device is an error, not a silent switch.
 */
export function loadTf(device: Device | string = process.env.ICCL_DEVICE ?? 'auto'): Tf {
  const requested = parseDevice(device);
  let target: Device = requested;
  if (requested === 'auto') target = packageInstalled('@tensorflow/tfjs-node-gpu') && cudaDevicePresent() ? 'gpu' : 'cpu';
  if (loaded) {
    if (requested !== 'auto' && requested !== loaded.info.requested && target !== loaded.info.device) {
      throw new BackendError(`device ${requested}: this process already runs TensorFlow on ${loaded.info.device}; start a new process`);
    }
    return loaded.tf;
  }
  if (target === 'gpu') {
    assertDeviceAvailable('gpu');
    loaded = loadNative('@tensorflow/tfjs-node-gpu', requested);
  } else if (target === 'js') {
    loaded = loadPureJs(requested);
  } else {
    loaded = loadNative('@tensorflow/tfjs-node', requested);
  }
  return loaded.tf;
}

/**
 * What loadTf has loaded in this thread (each worker thread has its own), or null before any load:
 * for code that uses native TensorFlow when the caller already chose it, without loading it itself.
 */
export function loadedTf(): { tf: Tf; info: BackendInfo } | null {
  return loaded;
}

/** What was loaded; loads the default device first if nothing was. */
export function backendInfo(): BackendInfo {
  if (!loaded) loadTf();
  return loaded!.info;
}

/** Tags every run records, so that runs on different hardware are never compared blindly. */
export function backendTags(): Record<string, string> {
  const i = backendInfo();
  return {
    'tf.backend': i.backend,
    'tf.device': i.device,
    'tf.package': i.package,
    'tf.tfjs_version': i.tfjsVersion,
    'tf.tensorflow_version': i.tensorflowVersion ?? 'none',
  };
}

/**
 * Checks, without loading TensorFlow, that `device` can be had here: for a driver that must refuse a
 * study up front rather than fail every trial with the same error.
 */
export function assertDeviceAvailable(device: Device | string): void {
  const d = parseDevice(device);
  if (d !== 'gpu') return;
  if (!cudaDevicePresent()) throw new BackendError('device gpu: no CUDA device found (no /dev/nvidia0); use --device cpu or auto on this machine');
  if (!packageInstalled('@tensorflow/tfjs-node-gpu')) {
    throw new BackendError('device gpu: @tensorflow/tfjs-node-gpu is not installed; run `bash tools/setup.sh --gpu` on this CUDA machine');
  }
}
