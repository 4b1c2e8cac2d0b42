import { evaluationDue, stepBudget } from '../src/train/epoch-runner';

describe('epoch runner: shared step budget and evaluation schedule', () => {
  it('takes whole batches of the sampler epoch, capped by maxStepsPerEpoch when it is set', () => {
    expect(stepBudget(454, 16, 0)).toBe(28);
    expect(stepBudget(454, 16, 3)).toBe(3);
    expect(stepBudget(454, 16, 100)).toBe(28);
    expect(stepBudget(15, 16, 0)).toBe(0);
  });

  it('validates every evalEvery epochs and always after the last epoch of a stage', () => {
    const due = (epochs: number, every: number) => Array.from({ length: epochs }, (_, e) => e).filter((e) => evaluationDue(e, epochs, every));
    expect(due(7, 3)).toEqual([2, 5, 6]);
    expect(due(6, 3)).toEqual([2, 5]);
    expect(due(3, 1)).toEqual([0, 1, 2]);
    expect(due(2, 10)).toEqual([1]);
  });
});
