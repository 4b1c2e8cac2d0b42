import { z } from 'zod';

/**
 * MLflow's int64 fields (timestamps, steps, sizes) arrive as JSON numbers from the Python server but
 * as strings from proto3-JSON servers; accept both and yield a JS number (exact below 2^53).
 */
export const int64 = z.union([z.number().int(), z.string().regex(/^-?\d+$/, 'an int64 as a decimal string')]).transform((v) => Number(v));

/** Doubles may arrive as "NaN" / "Infinity" / "-Infinity" strings (proto3 JSON); literals, not an enum, whose "-Infinity" key tsc cannot declare. */
export const double = z.union([z.number(), z.literal(['NaN', 'Infinity', '-Infinity']), z.string().regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/)]).transform((v) => Number(v));

export const keyValue = z.object({ key: z.string(), value: z.string().optional().default('') });

export const experimentSchema = z.object({
  experiment_id: z.string(),
  name: z.string(),
  artifact_location: z.string().optional(),
  lifecycle_stage: z.string().optional(),
  creation_time: int64.optional(),
  last_update_time: int64.optional(),
  tags: z.array(keyValue).optional(),
});
export type Experiment = z.infer<typeof experimentSchema>;

export const runStatusSchema = z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);
export type MlflowRunStatus = z.infer<typeof runStatusSchema>;

export const runInfoSchema = z.object({
  run_id: z.string(),
  experiment_id: z.string(),
  run_name: z.string().optional(),
  user_id: z.string().optional(),
  status: runStatusSchema,
  start_time: int64.optional(),
  end_time: int64.optional(),
  artifact_uri: z.string().optional(),
  lifecycle_stage: z.string().optional(),
});
export type RunInfo = z.infer<typeof runInfoSchema>;

export const metricSchema = z.object({ key: z.string(), value: double, timestamp: int64, step: int64.optional().default(0) });
export type Metric = z.infer<typeof metricSchema>;

export const datasetSchema = z.object({
  name: z.string(),
  digest: z.string(),
  source_type: z.string(),
  source: z.string(),
  schema: z.string().optional(),
  profile: z.string().optional(),
});
export type Dataset = z.infer<typeof datasetSchema>;
export const datasetInputSchema = z.object({ tags: z.array(keyValue).optional().default([]), dataset: datasetSchema });
export type DatasetInput = z.infer<typeof datasetInputSchema>;

export const runSchema = z.object({
  info: runInfoSchema,
  data: z
    .object({
      metrics: z.array(metricSchema).optional().default([]),
      params: z.array(keyValue).optional().default([]),
      tags: z.array(keyValue).optional().default([]),
    })
    .optional()
    .default({ metrics: [], params: [], tags: [] }),
  inputs: z.object({ dataset_inputs: z.array(datasetInputSchema).optional().default([]) }).optional().default({ dataset_inputs: [] }),
});
export type Run = z.infer<typeof runSchema>;

export const fileInfoSchema = z.object({ path: z.string(), is_dir: z.boolean().optional().default(false), file_size: int64.optional() });
export type FileInfo = z.infer<typeof fileInfoSchema>;

/** The `{error_code, message}` body MLflow returns on errors. */
export const errorBodySchema = z.object({ error_code: z.string().optional(), message: z.string().optional() });
