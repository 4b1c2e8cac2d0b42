import { testAccuracy } from '../harness';

// The methods table reports test accuracy: from trainers that select on validation (val/* during training,
// stage1_test/* at the end of stage 1, test/* in the result) as from trainers that logged eval/* (test).
describe('the harness reads test accuracy under either naming', () => {
  const val = { 'val/top1': 0.9, 'val/many': 0.95, 'val/medium': 0.9, 'val/few': 0.85 };
  it('stage 1: stage1_test/*, never val/*', () => {
    expect(testAccuracy({ ...val, 'stage1_test/top1': 0.4, 'stage1_test/many': 0.6, 'stage1_test/medium': 0.3, 'stage1_test/few': 0.1 }, 'stage1')).toEqual({ top1: 0.4, many: 0.6, medium: 0.3, few: 0.1 });
    expect(testAccuracy({ 'eval/top1': 0.5, 'eval/many': 0.7, 'eval/medium': 0.4, 'eval/few': 0.2 }, 'stage1')).toEqual({ top1: 0.5, many: 0.7, medium: 0.4, few: 0.2 });
    expect(testAccuracy(val, 'stage1').top1).toBeUndefined();
  });
  it('final: test/*, else eval/*, else the short names; never val/*', () => {
    expect(testAccuracy({ ...val, 'test/top1': 0.45, 'test/many': 0.6, 'test/medium': 0.35, 'test/few': 0.15, top1: 0.45 }, 'final')).toEqual({ top1: 0.45, many: 0.6, medium: 0.35, few: 0.15 });
    expect(testAccuracy({ 'eval/top1': 0.5, top1: 0.5, many: 0.7, medium: 0.4, few: 0.2 }, 'final')).toEqual({ top1: 0.5, many: 0.7, medium: 0.4, few: 0.2 });
    expect(testAccuracy(val, 'final').top1).toBeUndefined();
  });
});
