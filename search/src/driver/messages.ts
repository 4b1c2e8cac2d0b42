import type { DatasetInfo } from '@iccl/trainer-api';

/** Parent -> trial process. */
export type ToChild =
  | { type: 'start'; trialId: number; number: number; studyName: string; plugin: string; params: Record<string, unknown>; workDir: string; device: string }
  | { type: 'reportAck'; seq: number; prune: boolean; error?: string }
  | { type: 'abort'; reason: string };

/** Tracker calls made by the plugin, forwarded to the parent's tracker for this trial. */
export type TrackCall =
  | { call: 'logParams'; params: Record<string, string | number | boolean> }
  | { call: 'logMetrics'; metrics: Record<string, number>; step?: number; timestamp?: number }
  | { call: 'setTags'; tags: Record<string, string> }
  | { call: 'logInput'; dataset: DatasetInfo }
  | { call: 'logArtifact'; localPath: string; artifactPath?: string };

/** Trial process -> parent. */
export type FromChild =
  /** Plugin loaded and parameters valid: training starts now (the trial time limit starts here). */
  | { type: 'started' }
  | { type: 'report'; seq: number; step: number; metrics: Record<string, number> }
  | ({ type: 'track' } & TrackCall)
  | { type: 'done'; metrics: Record<string, number>; objective?: number; artifacts?: string[] }
  | { type: 'pruned'; step: number }
  | { type: 'failed'; reason: string; aborted: boolean };
