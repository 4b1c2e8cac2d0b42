import type { Pruner } from '../pruners/base';
import type { Sampler } from '../samplers/base';
import type { CompiledSpace } from '../spaces/compile';
import { StudyNotFoundError, type Storage } from '../storages/base';
import { createStudy, loadStudy } from '../study/create';
import type { Study } from '../study/study';
import { ATTR } from './attrs';

export interface OpenStudyOptions {
  studyName: string;
  space: CompiledSpace;
  storage: Storage;
  sampler: Sampler;
  pruner: Pruner;
}

/** Creates the study, or loads it when it exists with the same search space. */
export async function openStudy(o: OpenStudyOptions, where = 'the search-space file'): Promise<Study> {
  const sig = o.space.signature();
  let study: Study;
  try {
    const id = await o.storage.getStudyIdFromName(o.studyName);
    const attrs = await o.storage.getStudySystemAttrs(id);
    if (attrs[ATTR.spaceHash] !== undefined && attrs[ATTR.spaceHash] !== sig.hash) {
      throw new Error(
        `study "${o.studyName}" already exists in this storage with another search space (stored ${String(attrs[ATTR.spaceHash])}, ${where} gives ${sig.hash}): ` +
          `pass --study NEW_NAME to start a new study, or restore the space it was made with to resume it`,
      );
    }
    study = await loadStudy({ storage: o.storage, studyName: o.studyName, sampler: o.sampler, pruner: o.pruner });
    const dirs = study.directions;
    if (dirs.length !== o.space.directions.length || dirs.some((d, i) => d !== o.space.directions[i])) {
      throw new Error(`study "${o.studyName}" exists with other objective directions: pass --study NEW_NAME`);
    }
    // studies made before the names were stored get them on resume
    if (attrs[ATTR.metricNames] === undefined) await o.storage.setStudySystemAttr(id, ATTR.metricNames, o.space.objectiveMetrics);
  } catch (e) {
    if (!(e instanceof StudyNotFoundError)) throw e;
    study = await createStudy({ storage: o.storage, studyName: o.studyName, directions: o.space.directions, sampler: o.sampler, pruner: o.pruner, loadIfExists: true });
    await o.storage.setStudySystemAttr(study.studyId, ATTR.spaceHash, sig.hash);
    await o.storage.setStudySystemAttr(study.studyId, ATTR.space, JSON.parse(sig.canonical));
    await o.storage.setStudyUserAttr(study.studyId, 'objectives', o.space.objectiveMetrics);
    await o.storage.setStudySystemAttr(study.studyId, ATTR.metricNames, o.space.objectiveMetrics);
  }
  return study;
}
