#!/usr/bin/env bash
# The test suite: installs dependencies and builds (scripts/setup.sh), then runs every test with
# CTest, in parallel. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir "${GRADPOOL_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" --timeout 600
