import type { Pruner } from '../pruners/base';
import { MedianPruner } from '../pruners/median';
import type { Sampler } from '../samplers/base';
import { defaultSampler } from '../samplers/default';
import { DuplicatedStudyError, type Storage } from '../storages/base';
import { InMemoryStorage } from '../storages/memory';
import { Study } from './study';
import { StudyDirection } from './trial-types';

export type DirectionLike = StudyDirection | 'minimize' | 'maximize';

export interface CreateStudyOptions {
  /** Default: a fresh InMemoryStorage. */
  storage?: Storage;
  /** Default: a generated unique name. */
  studyName?: string;
  direction?: DirectionLike;
  /** One per objective; give this or `direction` (default: minimize). */
  directions?: DirectionLike[];
  /** Default: TPE for one objective, NSGA-II for several (as Optuna). */
  sampler?: Sampler;
  /** Default: MedianPruner (as Optuna). */
  pruner?: Pruner;
  /** Load the study when the name is taken instead of failing. */
  loadIfExists?: boolean;
}

export function parseDirection(d: DirectionLike): StudyDirection {
  if (d === 'minimize' || d === StudyDirection.MINIMIZE) return StudyDirection.MINIMIZE;
  if (d === 'maximize' || d === StudyDirection.MAXIMIZE) return StudyDirection.MAXIMIZE;
  throw new Error(`direction: got ${JSON.stringify(d)}, expected "minimize" or "maximize"`);
}

export async function createStudy(opts: CreateStudyOptions = {}): Promise<Study> {
  if (opts.direction !== undefined && opts.directions !== undefined) {
    throw new Error('createStudy: give either direction or directions, not both');
  }
  const dirs = (opts.directions ?? [opts.direction ?? 'minimize']).map(parseDirection);
  if (dirs.length === 0) throw new Error('createStudy: directions must not be empty');
  const storage = opts.storage ?? new InMemoryStorage();
  const studyName = opts.studyName ?? `no-name-${randomSuffix()}`;
  let studyId: number;
  try {
    studyId = await storage.createStudy(dirs, studyName);
  } catch (err) {
    if (!(err instanceof DuplicatedStudyError) || !opts.loadIfExists) throw err;
    studyId = await storage.getStudyIdFromName(studyName);
    const existing = await storage.getStudyDirections(studyId);
    if (existing.length !== dirs.length || existing.some((d, i) => d !== dirs[i])) {
      throw new Error(
        `createStudy: study "${studyName}" exists with directions ${existing.map((d) => StudyDirection[d]).join(',')}, ` +
          `not ${dirs.map((d) => StudyDirection[d]).join(',')}`,
      );
    }
  }
  return new Study(studyName, studyId, storage, opts.sampler ?? defaultSampler(dirs.length), opts.pruner ?? new MedianPruner(), dirs);
}

export interface LoadStudyOptions {
  storage: Storage;
  studyName: string;
  sampler?: Sampler;
  pruner?: Pruner;
}

export async function loadStudy(opts: LoadStudyOptions): Promise<Study> {
  const studyId = await opts.storage.getStudyIdFromName(opts.studyName);
  const dirs = await opts.storage.getStudyDirections(studyId);
  return new Study(opts.studyName, studyId, opts.storage, opts.sampler ?? defaultSampler(dirs.length), opts.pruner ?? new MedianPruner(), dirs);
}

function randomSuffix(): string {
  // Names only need to be unique, not reproducible.
  return `${Date.now().toString(36)}-${Math.floor(Math.random() * 0x7fffffff).toString(36)}`;
}
