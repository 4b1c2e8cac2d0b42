export * from './data';
export * from './samplers';
export * from './eval';
export * from './models';
export * from './train';
