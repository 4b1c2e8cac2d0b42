export { BackendError, DEVICES, parseDevice, cudaDevicePresent, type Device } from './device';
export { loadTf, backendInfo, backendTags, type Tf, type BackendInfo } from './load';
