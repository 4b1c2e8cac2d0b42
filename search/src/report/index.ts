export { writeReport, trialsCsv, type ReportOptions } from './write-report';
export { mainEffectImportance } from './importance';
export { renderSvg } from './plots';
