import { incompleteBeta, mean, pairedDifference, sd, tCdf, tQuantile } from '../stats';

describe('methods table statistics', () => {
  it('mean and sample sd', () => {
    expect(mean([1, 2, 6])).toBe(3);
    // deviations -2, -1, 3: (4 + 1 + 9) / 2 = 7
    expect(sd([1, 2, 6])).toBeCloseTo(Math.sqrt(7), 12);
    expect(sd([5])).toBeNaN();
    expect(() => mean([])).toThrow('mean of no values');
  });

  it('incomplete beta against closed forms: I_x(1, 1) = x, I_x(2, 1) = x^2, I_x(a, b) = 1 - I_(1-x)(b, a)', () => {
    expect(incompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 8);
    expect(incompleteBeta(0.7, 2, 1)).toBeCloseTo(0.49, 8);
    expect(incompleteBeta(0.2, 2.5, 0.5)).toBeCloseTo(1 - incompleteBeta(0.8, 0.5, 2.5), 8);
  });

  it('t distribution: df 1 is Cauchy; quantiles match the printed tables', () => {
    // Cauchy: F(t) = 1/2 + atan(t) / pi
    expect(tCdf(2, 1)).toBeCloseTo(0.5 + Math.atan(2) / Math.PI, 8);
    // df 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
    expect(tCdf(1.5, 2)).toBeCloseTo(0.5 + 1.5 / (2 * Math.sqrt(2 + 2.25)), 8);
    expect(tQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    // df 2 inverts in closed form: t = sqrt(2 q^2 / (1 - q^2)) with q = 2p - 1
    expect(tQuantile(0.975, 2)).toBeCloseTo(4.3027, 3);
    expect(tQuantile(0.975, 2)).toBeCloseTo(Math.sqrt((2 * 0.95 ** 2) / (1 - 0.95 ** 2)), 7);
    expect(tQuantile(0.975, 4)).toBeCloseTo(2.7764, 3);
    expect(tQuantile(0.975, 29)).toBeCloseTo(2.0452, 3);
    expect(tQuantile(0.5, 7)).toBeCloseTo(0, 6);
  });

  it('paired difference and its 95% t-interval, worked by hand for 3 seeds', () => {
    // d = (0.10, 0.15, 0.10): mean 7/60, sd = sqrt(6/7200), se = sd / sqrt(3) = 1/60,
    // t(0.975, 2) = sqrt(2 * 0.95^2 / (1 - 0.95^2)) = 4.302653; half-width = 4.302653 / 60.
    const r = pairedDifference([0.5, 0.6, 0.7], [0.4, 0.45, 0.6]);
    expect(r.diffs.map((d) => +d.toFixed(12))).toEqual([0.1, 0.15, 0.1]);
    expect(r.mean).toBeCloseTo(7 / 60, 12);
    expect(r.sd).toBeCloseTo(Math.sqrt(6 / 7200), 12);
    const half = Math.sqrt((2 * 0.95 ** 2) / (1 - 0.95 ** 2)) / 60;
    expect(r.lo).toBeCloseTo(7 / 60 - half, 8);
    expect(r.hi).toBeCloseTo(7 / 60 + half, 8);
    expect(r.lo).toBeCloseTo(0.044956, 5);
    expect(pairedDifference([1], [0.5]).lo).toBeNaN();
    expect(() => pairedDifference([1, 2], [1])).toThrow(/expected equal lengths/);
  });
});
