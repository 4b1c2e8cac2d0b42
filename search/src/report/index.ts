export { writeReport, trialsCsv, type ReportOptions } from './write-report';
export { paramImportances, MIN_TRIALS_FOR_IMPORTANCE, type Importances } from './importance';
export { fanova, fitTree, treeVariances, type Domain, type TreeNode, type FanovaResult } from './fanova';
export {
  PER_CLASS_ATTR,
  PER_CLASS_FILE,
  parsePerClassCsv,
  perClassFromArtifacts,
  perClassOf,
  type PerClass,
} from './per-class';
export { headTailPoints, shotBands, shotMetric } from './tail';
export { sig4 } from './format';
export { renderSvg } from './plots';
