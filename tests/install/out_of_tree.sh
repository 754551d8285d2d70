#!/usr/bin/env bash
# Installs steppar into a temporary prefix, builds the out-of-tree example plugin against the
# installed CMake package, and runs its pipeline with the installed steppar-host (which must
# find its built-in plugins with no environment variable).
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/steppar-oot-XXXXXX")
trap 'rm -rf "$work"' EXIT
unset STEPPAR_PLUGIN_PATH

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/steppar-host"
test -f "$work/prefix/lib/steppar/plugins/steppar_builtin.so"
test -f "$work/prefix/include/steppar/sdk.hpp"

cp -r "$src/examples/out-of-tree" "$work/project"
cmake -S "$work/project" -B "$work/project/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/project/build" >/dev/null
bash "$src/examples/demo/make-data.sh" "$work/project/data/docs" 50

cd "$work/project"
"$work/prefix/bin/steppar-host" run pipeline.yml --runner parallel

# Check the results against an independent computation.
test "$(find out/hist -name '*.txt' | wc -l)" -eq 51
expected_hist=$(tr -s ' \t' '\n\n' < data/docs/doc-00007.txt | awk 'length > 0 {n[length]++} END {for (l in n) print l, n[l]}' | sort -n)
test "$(cat out/hist/doc-00007.txt)" = "$expected_hist"
longest=$(cat data/docs/*.txt data/docs/*/*.txt | tr -s ' \t' '\n\n' | awk '{ if (length > m) m = length } END {print m}')
test "$(cut -d' ' -f1 out/longest.txt)" = "$longest"
test "$(find out/counts -name '*.json' | wc -l)" -eq 51
echo "out-of-tree plugin: OK ($(cat out/longest.txt))"
