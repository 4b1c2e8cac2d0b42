/**
 * Per-trial random streams. A sampler's draws for a trial come from its seed and the trial's place
 * in the study, never from one stream that starts again with every process: a study killed and
 * resumed proposes the points an uninterrupted one would, and two drivers on one study (each with
 * the same seed) never draw the same point, because no two trials share a place.
 */
import { Rng } from '../study/rng';
import type { Study } from '../study/study';
import { FIXED_PARAMS_ATTR } from '../study/trial';
import type { FrozenTrial } from '../study/trial-types';

/** A seed for samplers built without one (then nothing is reproducible, and nothing need be). */
export function freshSeed(): number {
  return Math.floor(Math.random() * 0x100000000);
}

/**
 * The trial's place: its position among the study's trials that draw their parameters (numbered
 * from 0). Trials that carry their parameters (retries of lost trials, enqueued trials) are not
 * counted, so the retries a resumed study queues do not shift the points of the trials after them.
 * A trial that carries parameters gets a place of its own, below zero, for any it still draws.
 */
export async function drawPlace(study: Study, trial: FrozenTrial): Promise<number> {
  if (carriesParams(trial)) return -1 - trial.number;
  let trials = await study.getTrials({ useCache: true });
  if (!trials.some((t) => t.number === trial.number)) trials = await study.getTrials();
  let place = 0;
  for (const t of trials) if (t.number < trial.number && !carriesParams(t)) place++;
  return place;
}

function carriesParams(t: FrozenTrial): boolean {
  return t.systemAttrs[FIXED_PARAMS_ATTR] !== undefined;
}

/** A 32-bit seed from the sampler's seed, the trial's place and what is drawn (`salt`). */
export function mixSeed(seed: number, place: number, salt: string): number {
  let h = fmix(Math.trunc(seed) >>> 0);
  h = fmix(h ^ (Math.trunc(seed / 0x100000000) >>> 0));
  h = fmix(h ^ (place >>> 0));
  for (let i = 0; i < salt.length; i++) h = fmix(h ^ salt.charCodeAt(i));
  return h;
}

/** murmur3's finaliser: every input bit flips about half of the output bits. */
function fmix(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The random stream for `salt` (e.g. a parameter name) in `trial`, from the sampler's `seed`. */
export async function trialRng(seed: number, study: Study, trial: FrozenTrial, salt: string): Promise<Rng> {
  return new Rng(mixSeed(seed, await drawPlace(study, trial), salt));
}
