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
    sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([A-Za-z_]+) \.+ *\**([A-Za-z ]+) +([0-9.]+) sec$/  \1 \3 s (\2)/p' "$log" | sort -k2 -n -r
  done
}
total_started=$SECONDS
cluster=
trap 'status=$?; [ -n "$cluster" ] && kill "$cluster" 2>/dev/null; report; exit $status' EXIT

timed "install dependencies" bash tools/install-deps.sh --test

# Optional compiler cache: STEPPAR_CCACHE_DIR=DIR (ccache is installed when asked for).
launcher=()
if [ -n "${STEPPAR_CCACHE_DIR:-}" ]; then
  command -v ccache >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ccache >/dev/null; }
  export CCACHE_DIR=$STEPPAR_CCACHE_DIR
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

echo "== release build and tests"
# Warnings are errors in the release build (every target has -Wall -Wextra).
timed "release: configure" cmake --preset release -DSTEPPAR_WARNINGS_AS_ERRORS=ON "${launcher[@]}" >/dev/null
timed "release: build" cmake --build --preset release
timed "release: tests" bash -c "ctest --preset release -E '^(slurm|multinode)$' 2>&1 | tee '$logs/release.ctest.log'; exit \${PIPESTATUS[0]}"

# The cluster tests spend most of their time waiting for Slurm: they run while the sanitize
# build compiles (each alone: they share the one Slurm).
echo "== release cluster tests (slurm, multinode), in the background"
cluster_started=$SECONDS
ctest --preset release -R '^(slurm|multinode)$' >"$logs/release-cluster.ctest.log" 2>&1 &
cluster=$!

echo "== sanitize build and tests"
# Under the sanitizers only the test binaries and what they start (steppar-host, the plugins):
# the benchmark's programs are checked by the release build's bench_smoke.
timed "sanitize: configure" cmake --preset sanitize -DSTEPPAR_WARNINGS_AS_ERRORS=OFF "${launcher[@]}" >/dev/null
timed "sanitize: build" cmake --build --preset sanitize --target steppar_unit_tests steppar_e2e_tests steppar_fault_tests
sanitize_status=0
timed "sanitize: tests" bash -c "ctest --preset sanitize 2>&1 | tee '$logs/sanitize.ctest.log'; exit \${PIPESTATUS[0]}" || sanitize_status=$?

echo "== release cluster tests: waiting for them"
cluster_status=0
wait "$cluster" || cluster_status=$?
cluster=
phases+=("$(printf '%-34s %6d s' "release: cluster tests (background)" $((SECONDS - cluster_started)))")
cat "$logs/release-cluster.ctest.log"
if ((sanitize_status != 0 || cluster_status != 0)); then
  echo "steppar: tests failed (sanitize: exit $sanitize_status, release cluster tests: exit $cluster_status)" >&2
  exit 1
fi
