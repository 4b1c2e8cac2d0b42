/** Seeds of the independent random streams of a trial, all derived from `seed` with `seedFrom`. */
export const STREAM = { init: 1, samplerA: 2, samplerB: 3, augment: 4, mixing: 5, crtInit: 6, crtSampler: 7, eval: 8 } as const;
