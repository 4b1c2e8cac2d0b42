#!/usr/bin/env bash
# The README's test command: set up everything, then typecheck, lint and test every project.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --test || exit 1
rm -rf .cache/jest
npx nx run-many -t typecheck lint test --parallel=1 --outputStyle=stream --skip-nx-cache
rc=$?
node tools/test-summary.mjs || rc=1
exit $rc
