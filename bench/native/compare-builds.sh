#!/usr/bin/env bash
# The same training step (bench/native/ours-step.ts, cross-entropy) in two checkouts of this repository
# whose tfjs-node addons are built against different libtensorflow versions, alternating, so that
# the machine's load falls on both alike. Prints one JSON line per run (img/s, peak RSS, TF version).
#   bash bench/native/compare-builds.sh CHECKOUT_A CHECKOUT_B [ROUNDS]
# Build checkout B against another TensorFlow wheel by editing TF_WHEEL_VERSION in its
# plugins/tf-backend/bin/setup-native.mjs and running it with ICCL_NATIVE_CACHE set to a folder of its own.
set -euo pipefail
A=$1; B=$2; ROUNDS=${3:-3}
run() { (cd "$1" && TF_NUM_INTRAOP_THREADS=2 TF_CPP_MIN_LOG_LEVEL=2 timeout 900 node --import tsx bench/native/ours-step.ts "$2" "$3" "$4" 1 ce now 2>/dev/null | tail -1); }
for r in $(seq "$ROUNDS"); do
  for wt in "$A" "$B"; do echo "$(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) $wt resnet32 $(run "$wt" resnet32 128 5)"; done
done
for wt in "$B" "$A"; do echo "$(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) $wt resnet50 $(run "$wt" resnet50 32 2)"; done
