"""Anchor for bench/mlflow/log-throughput.ts: MLflow's own Python client logging the same points
with log_batch at the same batch size. Prints one JSON line: {"seconds": ..., "points": ...}."""
import json
import sys
import time

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

uri, experiment, n_metrics, n_steps, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
client = MlflowClient(tracking_uri=uri)
exp = client.get_experiment_by_name(experiment)
exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
run = client.create_run(exp_id, run_name="python-log-batch")
ts = int(time.time() * 1000)
points = [Metric(f"m{k}", float(s * n_metrics + k), ts + s, s) for s in range(n_steps) for k in range(n_metrics)]
t0 = time.perf_counter()
for i in range(0, len(points), batch):
    client.log_batch(run.info.run_id, metrics=points[i : i + batch], synchronous=True)
seconds = time.perf_counter() - t0
client.set_terminated(run.info.run_id)
print(json.dumps({"seconds": seconds, "points": len(points), "run_id": run.info.run_id}))
