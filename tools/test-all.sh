#!/usr/bin/env bash
# Installs dependencies, builds steppar and runs the whole test suite twice: a Release build
# (unit, end-to-end, fault-injection, Slurm and multi-node cluster, out-of-tree plugin through
# the installed CMake package) and the same tests under AddressSanitizer +
# UndefinedBehaviorSanitizer. README's test command; .ci/run runs exactly this. At the end it
# prints where the time went: each phase, and each test.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d /tmp/steppar-test-all.XXXXXX)
phases=()

# Runs a phase, noting its wall seconds for the table.
timed() {
  local name=$1 started=$SECONDS status=0
  shift
  "$@" || status=$?
  phases+=("$(printf '%-34s %6d s' "$name" $((SECONDS - started)))")
  return $status
}

# The table: phases, then each ctest test with its seconds (from ctest's own lines).
report() {
  echo "== where the time went (total $((SECONDS - total_started)) s)"
  printf '%s\n' "${phases[@]}"
  for log in "$logs"/*.ctest.log; do
    [ -e "$log" ] || continue
    echo "-- $(basename "$log" .ctest.log) tests"
    sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([A-Za-z0-9_.]+) \.+ *\**([A-Za-z][A-Za-z ]*[A-Za-z]) +([0-9.]+) sec$/  \1 \3 s (\2)/p' "$log" | sort -k2 -n -r
  done
}
total_started=$SECONDS
# On an early failure the background install (below) is waited for: an apt-get left running holds
# dpkg's lock, and the next run's install would fail on it.
trap 'status=$?; [ -z "${installing:-}" ] || wait "$installing" 2>/dev/null || true; report; exit $status' EXIT

# Optional compiler cache: STEPPAR_CCACHE_DIR=DIR (ccache is installed when asked for).
launcher=() with_ccache=()
if [ -n "${STEPPAR_CCACHE_DIR:-}" ]; then
  export CCACHE_DIR=$STEPPAR_CCACHE_DIR
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  with_ccache=(--ccache)
fi
timed "install: what the build needs" bash tools/install-deps.sh --test --build-only "${with_ccache[@]}"

# What only the tests use (Slurm, Chromium, sshfs, Graphviz) installs while the release build
# compiles: on a fresh machine that is mostly unpacking, and it would otherwise hold up the build.
bash tools/install-deps.sh --test > "$logs/install.log" 2>&1 &
installing=$!
# Waits for it before the first test; its output only when it failed.
installed() { wait "$installing" || { cat "$logs/install.log" >&2; return 1; }; }

# This command installs everything the tests need, so a test that skips itself here (the cluster
# tests do where Slurm, sshfs or network namespaces cannot work) is coverage lost: it fails the run,
# after the other tests ran.
skips=0
no_skips() {
  local skipped
  skipped=$(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([A-Za-z0-9_.]+) \.+ *\*+Skipped.*/\1/p' "$1" | paste -sd'|')
  [ -z "$skipped" ] && return
  echo "steppar: skipped, so not tested here: ${skipped//|/, } (why: ctest --preset $2 -R '^($skipped)\$' -V)" >&2
  skips=1
}

echo "== release build and tests"
# Warnings are errors in the release build (every target has -Wall -Wextra).
timed "release: configure" cmake --preset release -DSTEPPAR_WARNINGS_AS_ERRORS=ON "${launcher[@]}" >/dev/null
timed "release: build" cmake --build --preset release

# Under the sanitizers: the unit tests (with the core) and what the end-to-end and fault tests
# start (steppar-host, the plugins). Those tests' own programs are the release build's
# (STEPPAR_TEST_DRIVERS): they only start processes and compare files. The benchmark's programs
# are checked by the release build's bench_smoke.
timed "sanitize: configure" cmake --preset sanitize -DSTEPPAR_WARNINGS_AS_ERRORS=OFF -DSTEPPAR_TEST_DRIVERS="$PWD/build/tests" "${launcher[@]}" >/dev/null
timed "install: the rest (waiting for it)" installed
echo "== release tests"
timed "release: tests" bash -c "ctest --preset release 2>&1 | tee '$logs/release.ctest.log'; exit \${PIPESTATUS[0]}"
no_skips "$logs/release.ctest.log" release

echo "== sanitize build and tests"
# (Tried: this build at nice 19 beside the release tests. Those tests kept the CPU busy enough
# that the build barely moved: 193 s of tests and 131 s of build after them, against about 140 and
# 157 one after the other.)
timed "sanitize: build" cmake --build --preset sanitize --target steppar_unit_tests steppar_test_products
timed "sanitize: tests" bash -c "ctest --preset sanitize 2>&1 | tee '$logs/sanitize.ctest.log'; exit \${PIPESTATUS[0]}"
no_skips "$logs/sanitize.ctest.log" sanitize
((!skips))
