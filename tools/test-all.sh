#!/usr/bin/env bash
# Installs dependencies, builds steppar and runs the whole test suite twice: a Release build
# (unit, end-to-end, fault-injection, out-of-tree plugin through the installed CMake package)
# and the same tests under AddressSanitizer + UndefinedBehaviorSanitizer. README's test
# command; .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh --test
for preset in release sanitize; do
  echo "== $preset build and tests"
  # Warnings are errors in the release build (every target has -Wall -Wextra).
  werror=OFF; [ "$preset" = release ] && werror=ON
  cmake --preset "$preset" -DSTEPPAR_WARNINGS_AS_ERRORS=$werror >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done
