export * from './shot-accuracy';
export * from './per-class-csv';
