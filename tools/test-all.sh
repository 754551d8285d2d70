#!/usr/bin/env bash
# Installs dependencies, builds steppar and runs the whole test suite (unit, end-to-end,
# out-of-tree plugin through the installed CMake package). README's test command; .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build=${STEPPAR_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
