import { rngFor, shuffleInPlace } from './rng';
import type { DatasetKind, DatasetSpec } from './types';

/**
 * Validation splits: the images a search selects on, disjoint from the training and the test images,
 * and the same for every trial of a study (every choice derives from the data seed alone). Two rules:
 *
 * - left out: a long-tail profile keeps part of a balanced source; the validation images come from
 *   what it leaves out, so the long-tailed training set is the same as without a validation split;
 * - hold out: class c gives min(cap, floor(fraction * n_c)) of its n_c training images (with `atLeastOne`,
 *   at least 1 when n_c >= 2); since the fraction is at most 0.5, every class keeps at least half of its
 *   images, and so at least one.
 */

/** Images per class of the left-out rule, and the cap of the inat18 hold-out, when valPerClass is 0. */
export const DEFAULT_VAL_PER_CLASS: Partial<Record<DatasetKind, number>> = {
  // CIFAR-10-LT: 500 of the 2003..4950 images the IF-100 profile leaves out of classes 1-9 (half the
  // test's 1000 per class: a 4,500-image split, so +-0.7 points of standard error on top-1 near 70%).
  'cifar10-lt': 500,
  // CIFAR-100-LT: 20, what the profile leaves out of class 1 at IF 50 (23 at IF 100, 12 at IF 10).
  'cifar100-lt': 20,
  // iNaturalist 2018: its val2018 (the field's test set) has 3 per class; we hold out as many.
  inat18: 3,
};

/** The stream tag of validation choices (the long-tail subset uses 0x17a11). */
const VAL_STREAM = 0x7a1d;

function indicesByClass(labels: Int32Array, numClasses: number, skip?: Uint8Array): number[][] {
  const by: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) if (!skip?.[i]) by[labels[i]].push(i);
  return by;
}

/** The first `n` of a seeded shuffle of each class's candidates (class c's stream: seed, VAL_STREAM, c). */
function pickPerClass(by: number[][], count: (c: number, available: number) => number, seed: number): Int32Array {
  const out: number[] = [];
  by.forEach((items, c) => {
    const order = shuffleInPlace(Int32Array.from(items), rngFor(seed, VAL_STREAM, c));
    const n = Math.min(items.length, count(c, items.length));
    for (let j = 0; j < n; j++) out.push(order[j]);
  });
  return Int32Array.from(out.sort((a, b) => a - b));
}

/**
 * Left-out rule: up to `perClass` images of each class among the source items NOT in `kept` (a class the
 * profile keeps whole, such as class 0 of CIFAR-LT at the default n_max, has none). Indices into the
 * source, in source order.
 */
export function leftOutValidation(labels: Int32Array, numClasses: number, kept: Int32Array, perClass: number, seed: number): Int32Array {
  const inTrain = new Uint8Array(labels.length);
  for (const i of kept) inTrain[i] = 1;
  return pickPerClass(indicesByClass(labels, numClasses, inTrain), () => perClass, seed);
}

/** How many of a class's n images the hold-out takes. */
export function holdOutCount(n: number, fraction: number, cap: number, atLeastOne: boolean): number {
  const k = Math.min(cap, Math.floor(fraction * n));
  return atLeastOne && n >= 2 ? Math.max(1, k) : k;
}

/** Hold-out rule (holdOutCount per class); returns both parts as source indices, in source order. */
export function stratifiedHoldOut(
  labels: Int32Array,
  numClasses: number,
  o: { fraction: number; cap: number; atLeastOne: boolean; seed: number },
): { train: Int32Array; val: Int32Array } {
  const val = pickPerClass(indicesByClass(labels, numClasses), (_c, n) => holdOutCount(n, o.fraction, o.cap, o.atLeastOne), o.seed);
  const isVal = new Uint8Array(labels.length);
  for (const i of val) isVal[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < labels.length; i++) if (!isVal[i]) train.push(i);
  return { train: Int32Array.from(train), val };
}

/** valPerClass and valSplit of a spec, checked (one line each) and with the kind's defaults filled in. */
export function validationParams(spec: DatasetSpec, fallbackPerClass: number): { perClass: number; fraction: number } {
  const v = spec.valPerClass ?? 0;
  if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`valPerClass = ${v}: expected an integer >= 0 (0: the data set's default)`);
  const f = spec.valSplit ?? 0.1;
  if (!(f > 0 && f <= 0.5)) throw new RangeError(`valSplit = ${f}: expected a fraction in (0, 0.5] of each class's training images`);
  return { perClass: v || (DEFAULT_VAL_PER_CLASS[spec.kind] ?? fallbackPerClass), fraction: f };
}
