export { searchSpaceFile, type SearchSpaceFile, type ParamSpace, type ObjectiveSpec } from './schema';
export { loadSearchSpace, parseSearchSpace, SearchSpaceError, deepMerge } from './load';
export { CompiledSpace, checkData, toDistribution, type TrialPlan, type Suggester } from './compile';
