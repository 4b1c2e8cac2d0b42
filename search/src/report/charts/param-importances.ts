import { sig4 } from '../format';
import { paramImportances } from '../importance';
import { W, type Figure, type ReportData } from './figure';

/** fANOVA importance of each parameter as bars, or why there is none (too few complete trials). */
export function paramImportancesChart(r: ReportData): Figure {
  const title = 'Parameter importances';
  const imp = paramImportances(r.trials);
  if (!imp.ok) return { title, note: imp.reason };
  return {
    title,
    note: `fANOVA over a random forest (64 trees) fitted to ${imp.trials} complete trials: each parameter's share of the objective's variance explained by that parameter alone, normalised to 1; main effects explain ${sig4(100 * imp.mainEffectShare)}% of the model's variance, the rest is interactions.`,
    spec: {
      width: W,
      height: { step: 18 },
      data: { values: Object.entries(imp.importance).map(([param, importance]) => ({ param, importance })) },
      mark: 'bar',
      encoding: {
        y: { field: 'param', type: 'nominal', sort: '-x' },
        x: { field: 'importance', type: 'quantitative', axis: { format: '.2f' } },
      },
    },
  };
}
