import { z } from 'zod';

/**
 * The declarative search-space file (`search-spaces/<name>.json`): which trainer to run, with which
 * fixed parameters, which parameters to search (ranges, scales, conditions), what to optimise, and
 * the budget, sampler and pruner. `configurations` hold named overrides (e.g. `smoke`), merged
 * over the base like Nx configurations: data, not code branches.
 */
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A parameter exists only when other (categorical) parameters take one of the listed values. */
const when = z.record(z.string(), z.array(scalar).min(1)).optional();

export const floatParam = z.strictObject({
  type: z.literal('float'),
  low: z.number(),
  high: z.number(),
  log: z.boolean().default(false),
  step: z.number().positive().nullable().default(null),
  when,
  description: z.string().optional(),
});
export const intParam = z.strictObject({
  type: z.literal('int'),
  low: z.number().int(),
  high: z.number().int(),
  log: z.boolean().default(false),
  step: z.number().int().positive().default(1),
  when,
  description: z.string().optional(),
});
export const categoricalParam = z.strictObject({
  type: z.literal('categorical'),
  choices: z.array(scalar).min(1),
  when,
  description: z.string().optional(),
});
export const paramSpace = z.discriminatedUnion('type', [floatParam, intParam, categoricalParam]);

export const objective = z.strictObject({
  metric: z.string().min(1),
  direction: z.enum(['minimize', 'maximize']),
});

/** A plugin, or a parameter whose value picks the plugin (e.g. `method`: iccl | ce | crt | mixup). */
const pluginTarget = z.strictObject({ plugin: z.string().min(1), fixed: z.record(z.string(), scalar).default({}) });
export const pluginChoice = z.union([
  z.string().min(1),
  z.strictObject({ param: z.string().min(1), map: z.record(z.string(), pluginTarget) }),
]);

export const budget = z.strictObject({
  trials: z.number().int().positive().default(20),
  workers: z.number().int().positive().default(1),
  /** Seconds per trial; null: no limit. */
  trialTimeout: z.number().positive().nullable().default(null),
  /** Seconds for the study: no trial starts after it. */
  studyTimeout: z.number().positive().nullable().default(null),
  /** Retries of a trial that failed for reasons outside the trainer (crash, kill, time limit). */
  retries: z.number().int().min(0).default(1),
});

export const samplerSpec = z.strictObject({
  name: z.string().default('tpe'),
  seed: z.number().int().optional(),
  options: z.record(z.string(), z.unknown()).default({}),
});
export const prunerSpec = z.strictObject({
  name: z.string().default('median'),
  options: z.record(z.string(), z.unknown()).default({}),
});

export const dataSpec = z.strictObject({
  /** Default data folder (relative to --data-dir when one is given). */
  dir: z.string().optional(),
  /** Files (relative to the data folder) that must exist before any trial starts; "a|b": either. */
  expects: z.array(z.string()).default([]),
  /** Parameter that receives the data folder. */
  param: z.string().optional(),
  /** Shown when files are missing: where to get them. */
  hint: z.string().optional(),
});

const baseShape = {
  description: z.string().optional(),
  plugin: pluginChoice,
  /** JSON file of fixed parameters (a protocol in configs/), relative to the repository root. */
  protocol: z.string().optional(),
  fixed: z.record(z.string(), scalar).default({}),
  params: z.record(z.string(), paramSpace).default({}),
  objectives: z.array(objective).min(1),
  /** Metric reported per step for pruning (default: the first objective's). */
  intermediateMetric: z.string().optional(),
  budget: budget.default(budget.parse({})),
  sampler: samplerSpec.default(samplerSpec.parse({})),
  pruner: prunerSpec.default(prunerSpec.parse({})),
  data: dataSpec.optional(),
};

/** A configuration overrides any top-level field (objects are merged key by key). */
export const configuration = z.record(z.string(), z.unknown());

export const searchSpaceFile = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/, 'letters, digits, "_", "-" or "." only'),
  ...baseShape,
  configurations: z.record(z.string(), configuration).default({}),
});

export type SearchSpaceFile = z.infer<typeof searchSpaceFile>;
export type ParamSpace = z.infer<typeof paramSpace>;
export type ObjectiveSpec = z.infer<typeof objective>;
