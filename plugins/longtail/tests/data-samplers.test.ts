import { makeSampler, type SamplerKind } from '../src/samplers';
import { exponentialProfile } from '../src/data/longtail-profile';

// A long-tailed label set: 6 classes, 200 down to 4 (IF 50), labels interleaved so order carries no class.
const counts = exponentialProfile(200, 6, 50);
const labels = Int32Array.from(counts.flatMap((n, c) => new Array<number>(n).fill(c)));
const N = labels.length;
const K = counts.length;

/** Expected class frequencies computed here from the definitions, independently of the samplers. */
function expected(kind: SamplerKind, r = 0.5): number[] {
  if (kind === 'instance') return counts.map((n) => n / N);
  if (kind === 'class-balanced') return counts.map(() => 1 / K);
  if (kind === 'sqrt') {
    const s = counts.reduce((a, n) => a + Math.sqrt(n), 0);
    return counts.map((n) => Math.sqrt(n) / s);
  }
  return counts.map((n) => r / K + ((1 - r) * n) / N);
}

function empirical(kind: SamplerKind, epochs: number, r?: number): { freq: number[]; draws: number; perImage: number[] } {
  const s = makeSampler(kind, labels, K, { seed: 7, samplerRatio: r });
  const hits = new Array<number>(K).fill(0);
  const perImage = new Array<number>(N).fill(0);
  let draws = 0;
  for (let e = 0; e < epochs; e++) {
    const idx = s.indices(e);
    expect(idx.length).toBe(s.epochLength);
    for (const i of idx) {
      hits[labels[i]]++;
      perImage[i]++;
    }
    draws += idx.length;
  }
  return { freq: hits.map((h) => h / draws), draws, perImage };
}

describe('sampler class frequencies match their definitions over many draws', () => {
  const cases: Array<[SamplerKind, number | undefined]> = [
    ['instance', undefined],
    ['class-balanced', undefined],
    ['sqrt', undefined],
    ['class-aware', 0],
    ['class-aware', 0.3],
    ['class-aware', 0.5],
    ['class-aware', 1],
  ];
  test.each(cases)('%s (r=%s)', (kind, r) => {
    const epochs = 400; // ~186k draws
    const { freq, draws } = empirical(kind, epochs, r);
    const p = expected(kind, r);
    for (let c = 0; c < K; c++) {
      // 5 binomial standard deviations: fails for a wrong definition, passes for a right one.
      const sd = Math.sqrt((p[c] * (1 - p[c])) / draws);
      expect(Math.abs(freq[c] - p[c])).toBeLessThan(5 * sd + 1e-12);
    }
    expect(makeSampler(kind, labels, K, { seed: 7, samplerRatio: r }).expectedClassFrequencies().map((v) => +v.toFixed(12))).toEqual(p.map((v) => +v.toFixed(12)));
  });

  test('class-balanced visits all images of a class evenly', () => {
    const { perImage } = empirical('class-balanced', 50);
    // class 5 has 4 images; each should get about the same share of that class's draws
    const cls5 = [...labels.keys()].filter((i) => labels[i] === 5).map((i) => perImage[i]);
    expect(Math.max(...cls5) - Math.min(...cls5)).toBeLessThanOrEqual(4);
  });

  test('instance sampler is a permutation per epoch and differs between epochs', () => {
    const s = makeSampler('instance', labels, K, { seed: 1 });
    const a = s.indices(0);
    expect([...a].sort((x, y) => x - y)).toEqual([...labels.keys()]);
    expect([...s.indices(1)]).not.toEqual([...a]);
  });

  test('class-balanced takes perVisit consecutive images of one class per visit', () => {
    const s = makeSampler('class-balanced', labels, K, { seed: 3, perVisit: 4, epochLength: 400 });
    const idx = s.indices(0);
    for (let k = 0; k < 400; k += 4) {
      const c = labels[idx[k]];
      for (let j = 1; j < 4; j++) expect(labels[idx[k + j]]).toBe(c);
    }
  });
});

describe('samplers are deterministic given a seed', () => {
  test.each(['instance', 'class-balanced', 'sqrt', 'class-aware'] as SamplerKind[])('%s', (kind) => {
    const a = makeSampler(kind, labels, K, { seed: 11, samplerRatio: 0.4 });
    const b = makeSampler(kind, labels, K, { seed: 11, samplerRatio: 0.4 });
    const c = makeSampler(kind, labels, K, { seed: 12, samplerRatio: 0.4 });
    // b asks for epoch 2 first: results must not depend on the call order
    const b2 = b.indices(2);
    expect([...a.indices(0)]).toEqual([...b.indices(0)]);
    a.indices(1);
    expect([...a.indices(2)]).toEqual([...b2]);
    expect([...c.indices(0)]).not.toEqual([...a.indices(0)]);
  });

  test('epoch lengths default to the data-set size and can be set (except instance)', () => {
    expect(makeSampler('sqrt', labels, K, { seed: 0 }).epochLength).toBe(N);
    expect(makeSampler('class-aware', labels, K, { seed: 0, epochLength: 50 }).indices(0).length).toBe(50);
    expect(() => makeSampler('instance', labels, K, { seed: 0, epochLength: 50 })).toThrow(/epochLength = 50/);
    expect(() => makeSampler('class-aware', labels, K, { seed: 0, samplerRatio: 1.5 })).toThrow(/samplerRatio = 1.5/);
  });

  test('empty classes are never drawn by class-based samplers', () => {
    const lab = Int32Array.from([0, 0, 0, 2, 2]); // class 1 empty
    for (const kind of ['class-balanced', 'sqrt', 'class-aware'] as SamplerKind[]) {
      const idx = makeSampler(kind, lab, 3, { seed: 0, samplerRatio: 1, epochLength: 1000 }).indices(0);
      const seen = new Set([...idx].map((i) => lab[i]));
      expect([...seen].sort()).toEqual([0, 2]);
    }
  });
});
