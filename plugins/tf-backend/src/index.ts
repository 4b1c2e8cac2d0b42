export { BackendError, DEVICES, parseDevice, cudaDevicePresent, type Device } from './device';
export { loadTf, backendInfo, backendTags, assertDeviceAvailable, type Tf, type BackendInfo } from './load';
