export { BackendError, DEVICES, parseDevice, cudaDevicePresent, type Device } from './device';
export { loadTf, loadedTf, backendInfo, backendTags, assertDeviceAvailable, type Tf, type BackendInfo } from './load';
export { compareSteps, readStepValues, writeStepValues, GPU_VS_CPU, type Comparison, type StepValues, type Tolerance } from './gpu-check/compare';
