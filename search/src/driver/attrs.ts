/** System attributes the driver writes on trials (visible in Optuna and optuna-dashboard too). */
export const ATTR = {
  failReason: 'fail_reason',
  trackingRunId: 'tracking_run_id',
  /** On a retry: the run of the attempt it replaces (each attempt logs into its own run). */
  retriedRunId: 'retried_run_id',
  retriedFrom: 'retried_from',
  retryCount: 'retry_count',
  workDir: 'work_dir',
  host: 'driver_host',
  pid: 'driver_pid',
  driverId: 'driver_id',
  /** The Slurm task running the trial (JOBID_TASKID of an array, or JOBID), when run under Slurm. */
  slurmTask: 'slurm_task',
  spaceHash: 'search_space_hash',
  space: 'search_space',
  /** Optuna's Study.set_metric_names key: optuna-dashboard labels objectives with it. */
  metricNames: 'study:metric_names',
} as const;
