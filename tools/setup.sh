#!/usr/bin/env bash
# One set-up step for everything the project needs, idempotent and quick on a second run:
#   npm packages (from the lock), the native TensorFlow backend, the pinned Python packages in .venv,
#   the Debian packages the native build needs, and with --test those the tests use (PostgreSQL, Chromium,
#   a single-node Slurm with munge).
# Usage: bash tools/setup.sh [--test] [--gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
want_test=0; want_gpu=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    --gpu) want_gpu=1 ;;
    *) echo "setup: unknown option $a (expected --test, --gpu)" >&2; exit 2 ;;
  esac
done
say() { printf '[setup] %s\n' "$*" >&2; }

# --- Node.js ------------------------------------------------------------------------------------
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error(`[setup] Node.js >= 20.19 is needed (found ${process.versions.node})`); process.exit(1) }'

# --- npm packages: reinstall only when the lock changed ----------------------------------------
lock_sum=$(sha256sum package-lock.json | cut -c1-16)
stamp=node_modules/.iccl-lock
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  say "installing npm packages (npm ci)"
  # Scripts off: tfjs-node's install script would try to download libtensorflow; plugins/tf-backend/bin/setup-native.mjs does
  # that step itself, with a fallback that works where the download host is unreachable.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
fi

# --- system packages --------------------------------------------------------------
# nm, make and g++ build the native addon (always); PostgreSQL and Chromium serve the tests (--test).
need=()
command -v nm >/dev/null 2>&1 || need+=(binutils)
command -v make >/dev/null 2>&1 || need+=(make)
command -v g++ >/dev/null 2>&1 || need+=(g++)
if [ "$want_test" = 1 ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # A single-node Slurm on loopback for the job-array tests (search/tests/slurm-*.test.ts).
  command -v slurmctld >/dev/null 2>&1 || need+=(slurmctld)
  command -v slurmd >/dev/null 2>&1 || need+=(slurmd)
  command -v sbatch >/dev/null 2>&1 || need+=(slurm-client)
  command -v munged >/dev/null 2>&1 || need+=(munge)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "set-up needs these Debian packages: ${need[*]} (run: sudo apt-get install -y ${need[*]})"; exit 1
  fi
  say "installing Debian packages: ${need[*]}"
  # The package lists once, and only when apt knows none of the packages yet (a fresh image has no lists).
  if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then apt-get update -qq >/dev/null; fi
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }
  # Lists that are there but stale (a package moved on the mirror): refresh them once and retry.
  apt_install || { apt-get update -qq >/dev/null; apt_install; }
fi

# --- native TensorFlow --------------------------------------------------------------------------
node plugins/tf-backend/bin/setup-native.mjs
if [ "$want_gpu" = 1 ]; then node plugins/tf-backend/bin/setup-native.mjs --gpu; fi

# --- Python: pinned mlflow (local tracking server) and optuna ----------------------------------
req_sum=$(sha256sum tools/python/requirements.txt | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.iccl-req 2>/dev/null)" != "$req_sum" ]; then
  say "installing Python packages into .venv (mlflow, optuna)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/python/requirements.txt
  echo "$req_sum" > .venv/.iccl-req
fi

say "ready"
