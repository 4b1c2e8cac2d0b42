#!/usr/bin/env bash
# Starts an MLflow tracking server the way the project uses it: loopback, sqlite store, artifacts
# served through the server's proxy (so clients never need the artifact store's credentials).
#   bash tools/mlflow/server.sh [DIR] [PORT]      (defaults: current folder, 5000)
# Then: export MLFLOW_TRACKING_URI=http://127.0.0.1:PORT
# With ICCL_MLFLOW_BASIC_AUTH=1 it runs MLflow's basic-auth app; it then needs
# MLFLOW_AUTH_ADMIN_PASSWORD (MLflow ships no default admin password) and MLFLOW_FLASK_SERVER_SECRET_KEY.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$(cd "${1:-.}" && pwd)
PORT=${2:-5000}
MLFLOW=${ICCL_MLFLOW_BIN:-}
if [ -z "$MLFLOW" ]; then
  if [ -x "$ROOT/.venv/bin/mlflow" ]; then MLFLOW="$ROOT/.venv/bin/mlflow"; else MLFLOW=$(command -v mlflow || true); fi
fi
if [ -z "$MLFLOW" ]; then
  echo "mlflow-server: mlflow not found (run: bash tools/setup.sh, or pip install 'mlflow[auth]==3.17.2')" >&2
  exit 1
fi
extra=()
if [ "${ICCL_MLFLOW_BASIC_AUTH:-0}" = 1 ]; then
  : "${MLFLOW_AUTH_ADMIN_PASSWORD:?mlflow-server: set MLFLOW_AUTH_ADMIN_PASSWORD for the basic-auth admin user}"
  : "${MLFLOW_FLASK_SERVER_SECRET_KEY:?mlflow-server: set MLFLOW_FLASK_SERVER_SECRET_KEY (CSRF key of the basic-auth app)}"
  extra+=(--app-name basic-auth)
fi
# MLflow 3.x also starts GenAI job-runner processes by default; a training tracking server needs none.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}
cd "$DIR"
exec "$MLFLOW" server --host 127.0.0.1 --port "$PORT" \
  --backend-store-uri "sqlite:///$DIR/mlflow.db" \
  --artifacts-destination "$DIR/mlartifacts" --serve-artifacts "${extra[@]}"
