export * from './sampler';
export { instanceSampler } from './instance';
export { classBalancedSampler } from './class-balanced';
export { sqrtSampler } from './sqrt';
export { classAwareSampler } from './class-aware';
export { makeSampler } from './make-sampler';
