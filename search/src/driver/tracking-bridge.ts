/**
 * The tracking bridge: the only place where the driver talks to a tracking backend (one parent run
 * per study, one child run per trial, the trial process's tracker calls forwarded to its run). What
 * happens when the tracking server is away belongs here (and in the backend), nowhere else.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tracker, TrackingBackend } from '@iccl/trainer-api';
import type { CompiledSpace } from '../spaces/compile';
import { StaleTrialError, type Storage } from '../storages/base';
import type { Study } from '../study/study';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import { heldOutTestTags, testMetrics } from '../report/held-out-test';
import { ATTR } from './attrs';
import type { TrackCall } from './messages';

export type RunStatus = 'FINISHED' | 'FAILED' | 'KILLED';

export interface StudyTrackingOptions {
  studyName: string;
  space: CompiledSpace;
  runsDir: string;
  /** Logged on the study's run when it starts (sampler and pruner settings, budget, ...). */
  studyRunParams?: Record<string, string | number | boolean>;
}

/** One trial's run, or nothing when the study is not tracked. */
export class TrialTracking {
  private readonly pending: Promise<void>[] = [];
  constructor(
    readonly tracker: Tracker | null,
    /** The run id written in the trial's attributes (a key reference while the run is not created yet). */
    public recordedRunId?: string,
  ) {}

  /** A tracker call made by the plugin in the trial process. */
  forward(m: TrackCall): void {
    const t = this.tracker;
    if (!t) return;
    if (m.call === 'logParams') t.logParams(m.params);
    else if (m.call === 'logMetrics') t.logMetrics(m.metrics, m.step, m.timestamp);
    else if (m.call === 'setTags') t.setTags(m.tags);
    else if (m.call === 'logInput') t.logInput(m.dataset);
    else this.pending.push(t.logArtifact(m.localPath, m.artifactPath).catch(() => undefined));
  }

  /**
   * Resolves when what was forwarded so far is on the server or in the spool file (bounded by the
   * tracker's wait): a report is recorded in the study only after its metrics are, so a driver killed
   * between the two never leaves the study with a point its run lacks.
   */
  async flushed(): Promise<void> {
    if (this.tracker) await this.tracker.flush();
  }

  /** Resolves when the artifacts forwarded so far are uploaded (or failed). */
  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }

  async end(status: RunStatus, reason?: string): Promise<void> {
    if (this.tracker) await this.tracker.end(status, reason);
  }
}

export class TrackingBridge {
  private constructor(
    private readonly tracking: TrackingBackend | null,
    private readonly storage: Storage,
    private readonly o: StudyTrackingOptions,
    /** The study's run (null when not tracked). */
    readonly studyRun: Tracker | null,
  ) {}

  /** Starts (or reattaches to) the study's run and logs what is searched. */
  static async open(tracking: TrackingBackend | null, storage: Storage, study: Study, o: StudyTrackingOptions): Promise<TrackingBridge> {
    if (!tracking) return new TrackingBridge(null, storage, o, null);
    const sattrs = await storage.getStudySystemAttrs(study.studyId);
    const prev = sattrs[ATTR.trackingRunId] as string | undefined;
    const run = await tracking.startRun({ name: o.studyName, resumeRunId: prev, tags: { 'iccl.study': o.studyName, 'iccl.space': o.space.space.name } });
    if (!prev) await storage.setStudySystemAttr(study.studyId, ATTR.trackingRunId, run.runId);
    if (o.studyRunParams) run.logParams(o.studyRunParams);
    // The effective search space (configuration and --set applied), so the run says what was searched.
    fs.mkdirSync(o.runsDir, { recursive: true });
    const spaceFile = path.join(o.runsDir, 'search-space.json');
    fs.writeFileSync(spaceFile, JSON.stringify(o.space.space, null, 2) + '\n');
    await run.logArtifact(spaceFile);
    return new TrackingBridge(tracking, storage, o, run);
  }

  /**
   * Starts the trial's run. A retry is a new trial with a run of its own (as
   * Optuna's retried trials are): reattaching to the lost attempt's run would log the steps between its
   * checkpoint and its loss twice. The lost attempt's run is ended FAILED here, since a driver that was
   * killed never ended it.
   */
  async startTrial(t: FrozenTrial, plan: { plugin: string }): Promise<TrialTracking> {
    if (!this.tracking) return new TrialTracking(null);
    const prev = t.systemAttrs[ATTR.trackingRunId] as string | undefined;
    const lost = t.systemAttrs[ATTR.retriedRunId] as string | undefined;
    if (lost && !prev) await this.endRun(lost, `${this.o.studyName}#${String(t.systemAttrs[ATTR.retriedFrom])}`, `lost; retried as trial ${t.number}`);
    const retried = t.systemAttrs[ATTR.retriedFrom];
    const tracker = await this.tracking.startRun({
      name: `${this.o.studyName}#${t.number}`,
      parentRunId: this.studyRun?.runId,
      resumeRunId: prev,
      tags: { 'iccl.study': this.o.studyName, 'iccl.trial': String(t.number), 'iccl.plugin': plan.plugin, ...(retried !== undefined ? { 'iccl.retried_from': String(retried) } : {}) },
    });
    if (!prev) await this.storage.setTrialSystemAttr(t.trialId, ATTR.trackingRunId, tracker.runId);
    // Its parameters come from the trial process (the runner's trainTrial logs the validated set).
    return new TrialTracking(tracker, prev ?? tracker.runId);
  }

  /**
   * A run created after an outage was known by its key until then: write its real id on the trial
   * (while the trial is live), so that the study names the MLflow run, not a key.
   */
  async recordRunId(t: FrozenTrial, tracked: TrialTracking): Promise<void> {
    const id = tracked.tracker?.runId;
    if (!id || id === tracked.recordedRunId) return;
    try {
      await this.storage.setTrialSystemAttr(t.trialId, ATTR.trackingRunId, id);
      tracked.recordedRunId = id;
    } catch (e) {
      if (!(e instanceof StaleTrialError)) throw e; // finished elsewhere: its attributes are final
    }
  }

  /** Ends FAILED the run of a trial whose driver is gone and that gets no retry. */
  async endLostRun(t: FrozenTrial, reason: string): Promise<void> {
    const runId = t.systemAttrs[ATTR.trackingRunId] as string | undefined;
    if (this.tracking && runId) await this.endRun(runId, `${this.o.studyName}#${t.number}`, reason);
  }

  /** A driver that was killed never ended its runs: reattach to one and end it FAILED. */
  private async endRun(runId: string, name: string, reason: string): Promise<void> {
    const run = await this.tracking!.startRun({ name, parentRunId: this.studyRun?.runId, resumeRunId: runId });
    await run.end('FAILED', reason);
  }

  /** Writes the study summary, lets the caller attach its report, and ends the study's run. */
  async endStudy(study: Study, status: RunStatus, onStudyEnd?: (study: Study, studyRun: Tracker | null) => Promise<void>): Promise<void> {
    if (this.studyRun) await logStudySummary(study, this.studyRun);
    await onStudyEnd?.(study, this.studyRun);
    if (this.studyRun) await this.studyRun.end(status);
  }
}

/**
 * The best trial on the study's run: tags (params are immutable in MLflow, and the best changes as a
 * resumed study goes on) and a `best/value` metric stepped by the number of complete trials. The best
 * is chosen on the objective (validation); its test accuracy goes apart, as selected_test.* tags and
 * selected_test/* metrics, with a note that no choice read it (report/held-out-test.ts).
 */
async function logStudySummary(study: Study, run: Tracker): Promise<void> {
  const complete = await study.getTrials({ states: [TrialState.COMPLETE] });
  const tags: Record<string, string> = {
    'iccl.trials.complete': String(complete.length),
    'iccl.trials.total': String((await study.getTrials()).length),
  };
  if (complete.length > 0 && study.directions.length === 1) {
    const best = await study.bestTrial();
    tags['best.trial'] = String(best.number);
    tags['best.value'] = String(best.values![0]);
    for (const [k, v] of Object.entries(best.params)) tags[`best.param.${k}`] = String(v);
    Object.assign(tags, heldOutTestTags(best));
    const test = Object.fromEntries(Object.entries(testMetrics(best)).map(([k, v]) => [`selected_test/${k}`, v]));
    run.logMetrics({ 'best/value': best.values![0]!, ...test }, complete.length);
  } else if (complete.length > 0) {
    tags['best.pareto_trials'] = (await study.bestTrials()).map((t) => t.number).join(',');
  }
  run.setTags(tags);
}
