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
  if [ "$preset" = release ]; then
    cmake --build --preset "$preset"
  else
    # Under the sanitizers only the test binaries and what they start (steppar-host, the
    # plugins): the benchmark's programs are checked by the release build's bench_smoke.
    cmake --build --preset "$preset" --target steppar_unit_tests steppar_e2e_tests steppar_fault_tests
  fi
  ctest --preset "$preset"
done
