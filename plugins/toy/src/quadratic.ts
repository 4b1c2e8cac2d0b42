import { definePlugin, TrialFailed } from '@iccl/trainer-api';

/** Known optimum of the toy objective: used by tests of samplers and pruners. */
export const TOY_OPTIMUM = { x: 1, y: -2, value: 0 } as const;

/** Deterministic noise in [-1, 1) from a seed and an index (no shared RNG state across trials). */
function hashNoise(seed: number, i: number): number {
  let h = (seed * 0x9e3779b1 + i * 0x85ebca77) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 31 - 1;
}

export function toyLoss(x: number, y: number): number {
  return (x - TOY_OPTIMUM.x) ** 2 + (y - TOY_OPTIMUM.y) ** 2;
}

/**
 * A "training run" whose loss curve decays towards (x-1)^2 + (y+2)^2 over the epochs, with seeded noise.
 * Reports the loss every epoch so that pruners have learning curves to judge, and can be told to fail,
 * return NaN or sleep, to exercise the driver's error paths and concurrency without any real training.
 */
export const plugin = definePlugin({
  name: 'toy',
  version: '0.1.0',
  description: 'Noisy quadratic with known optimum at x=1, y=-2 (value 0); a learning curve per epoch.',
  params: {
    x: { type: 'float', default: 0, min: -5, max: 5, description: 'First coordinate.' },
    y: { type: 'float', default: 0, min: -5, max: 5, description: 'Second coordinate.' },
    epochs: { type: 'int', default: 5, min: 1, max: 1000, description: 'Number of reported steps.' },
    noise: { type: 'float', default: 0, min: 0, max: 10, description: 'Amplitude of the seeded noise added to each report.' },
    seed: { type: 'int', default: 0, min: 0, description: 'Seed of the noise.' },
    sleepMs: { type: 'int', default: 0, min: 0, max: 600000, description: 'Wall time per epoch, to simulate work.' },
    failAtEpoch: { type: 'int', default: 0, min: 0, description: 'Throw at this epoch (0: never).' },
    nanAtEpoch: { type: 'int', default: 0, min: 0, description: 'Produce a NaN loss at this epoch (0: never).' },
  },
  async train(p, ctx) {
    const target = toyLoss(p.x, p.y);
    let loss = Number.NaN;
    for (let epoch = 1; epoch <= p.epochs; epoch++) {
      if (ctx.signal.aborted) throw new Error(`aborted at epoch ${epoch}`);
      if (p.sleepMs > 0) await new Promise((r) => setTimeout(r, p.sleepMs));
      if (p.failAtEpoch === epoch) throw new Error(`toy failure requested at epoch ${epoch}`);
      // The curve starts 10 above the target and decays by half per epoch.
      loss = target + 10 * 0.5 ** epoch + p.noise * hashNoise(p.seed, epoch);
      if (p.nanAtEpoch === epoch) loss = Number.NaN;
      if (!Number.isFinite(loss)) throw new TrialFailed(`non-finite loss at epoch ${epoch}`, { epoch, loss });
      ctx.tracker.logMetrics({ loss }, epoch);
      await ctx.report(epoch, { loss });
    }
    return { metrics: { loss, target }, objective: loss };
  },
});
