/**
 * Tables of the PostgreSQL storage. Objective and intermediate values are float8 (which holds NaN
 * and infinities, unlike jsonb); attributes and parameters are jsonb. `next_number` on the study
 * row hands out trial numbers atomically (the UPDATE takes the row lock). Statements are idempotent,
 * so an older database gets the newer columns.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS iccl_studies (
  study_id     serial PRIMARY KEY,
  study_name   text NOT NULL UNIQUE,
  directions   int[] NOT NULL,
  user_attrs   jsonb NOT NULL DEFAULT '{}',
  system_attrs jsonb NOT NULL DEFAULT '{}',
  next_number  int NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS iccl_trials (
  trial_id          serial PRIMARY KEY,
  study_id          int NOT NULL REFERENCES iccl_studies(study_id) ON DELETE CASCADE,
  number            int NOT NULL,
  state             int NOT NULL,
  "values"          float8[],
  datetime_start    timestamptz,
  datetime_complete timestamptz,
  params            jsonb NOT NULL DEFAULT '{}',
  user_attrs        jsonb NOT NULL DEFAULT '{}',
  system_attrs      jsonb NOT NULL DEFAULT '{}',
  heartbeat         timestamptz,
  -- Tokens of the trial's creation and claim: a retry after a dropped connection finds its own effect.
  create_token      uuid UNIQUE,
  claim_token       uuid,
  UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS iccl_trials_study_state ON iccl_trials (study_id, state);
-- Databases made before the tokens existed get them; checked first, since ALTER TABLE would take
-- the table's exclusive lock on every start, even with nothing to add.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'iccl_trials' AND column_name = 'create_token') THEN
    ALTER TABLE iccl_trials ADD COLUMN create_token uuid UNIQUE, ADD COLUMN claim_token uuid;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS iccl_trial_values (
  trial_id int NOT NULL REFERENCES iccl_trials(trial_id) ON DELETE CASCADE,
  step     int NOT NULL,
  value    float8 NOT NULL,
  PRIMARY KEY (trial_id, step)
);
`;
