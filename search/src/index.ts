export * from './study/distributions';
export * from './study/trial-types';
export * from './storages/base';
