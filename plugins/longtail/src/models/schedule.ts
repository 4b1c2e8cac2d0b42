/** Learning-rate schedules, as a function of the fractional epoch (epoch + step / stepsPerEpoch). */
export interface LrSchedule {
  kind: 'step' | 'cosine' | 'constant';
  /** base learning rate */
  lr: number;
  /** total epochs of the stage */
  epochs: number;
  /** linear warm-up epochs: lr * t / warmup, reaching lr at t = warmup */
  warmupEpochs: number;
  /** 'step': [epoch, factor] pairs; from `epoch` on the rate is lr * factor (absolute, not cumulative) */
  steps?: [number, number][];
  /** 'cosine': final rate as a fraction of lr (0 by default) */
  minFactor?: number;
}

export function lrAt(s: LrSchedule, t: number): number {
  if (s.warmupEpochs > 0 && t < s.warmupEpochs) return (s.lr * Math.max(t, 1e-3)) / s.warmupEpochs;
  switch (s.kind) {
    case 'constant':
      return s.lr;
    case 'step': {
      let f = 1;
      for (const [e, factor] of s.steps ?? []) if (t >= e) f = factor;
      return s.lr * f;
    }
    case 'cosine': {
      const span = Math.max(1e-9, s.epochs - s.warmupEpochs);
      const p = Math.min(1, Math.max(0, (t - s.warmupEpochs) / span));
      const min = s.minFactor ?? 0;
      return s.lr * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * p)));
    }
  }
}

/**
 * Parses "160:0.01,180:0.0001" (epoch:factor). Empty gives the CIFAR-LT protocol scaled to `epochs`:
 * x0.01 at 80% and x0.0001 at 90% of training (160 and 180 of 200).
 */
export function parseLrSteps(text: string, epochs: number): [number, number][] {
  if (text.trim() === '') return [
    [Math.round(epochs * 0.8), 0.01],
    [Math.round(epochs * 0.9), 0.0001],
  ];
  return text.split(',').map((part) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*:\s*([0-9.eE+-]+)\s*$/.exec(part);
    const factor = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(factor) || factor < 0) {
      throw new Error(`parameter "lrSteps": got ${JSON.stringify(text)}, expected comma-separated epoch:factor pairs like "160:0.01,180:0.0001"`);
    }
    return [Number(m[1]), factor];
  });
}
