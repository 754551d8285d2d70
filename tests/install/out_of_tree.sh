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
ctest --test-dir "$work/project/build" --output-on-failure > "$work/example_ctest.log" || { cat "$work/example_ctest.log"; exit 1; }
grep -q "word_lengths_nodes .*Passed" "$work/example_ctest.log"
bash "$src/examples/demo/make-data.sh" "$work/project/data/docs" 50

cd "$work/project"
# The installed steppar_add_plugin names the plugin and gives it the project's version.
"$work/prefix/bin/steppar-host" validate pipeline.yml | grep -q "plugin 'lengths': word_lengths 0.1.0, 2 node(s); SDK "
"$work/prefix/bin/steppar-host" run pipeline.yml --runner parallel

# Check the results against an independent computation.
test "$(find out/hist -name '*.txt' | wc -l)" -eq 51
expected_hist=$(tr -s ' \t' '\n\n' < data/docs/doc-00007.txt | awk 'length > 0 {n[length]++} END {for (l in n) print l, n[l]}' | sort -n)
test "$(cat out/hist/doc-00007.txt)" = "$expected_hist"
longest=$(cat data/docs/*.txt data/docs/*/*.txt | tr -s ' \t' '\n\n' | awk '{ if (length > m) m = length } END {print m}')
test "$(cut -d' ' -f1 out/longest.txt)" = "$longest"
test "$(find out/counts -name '*.json' | wc -l)" -eq 51
echo "out-of-tree plugin: OK ($(cat out/longest.txt))"

# The kedro-partitioned migration example (README "Migrating from kedro-partitioned"): the same
# results the Kedro project gives, worked out by hand from its rules.
cp -r "$src/examples/kedro-migration" "$work/migration"
cmake -S "$work/migration" -B "$work/migration/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/migration/build" >/dev/null
(cd "$work/migration" && "$work/prefix/bin/steppar-host" run pipeline.yml 2> run.log) || { cat "$work/migration/run.log"; exit 1; }
cd "$work/migration"
grep -q "1 of 5 partition(s) left out by filter/exclude/date_range/--partitions" run.log   # US/2023-12-31
grep -q "1 cached partition(s) left out" run.log                                         # BR/2024-01-03
test "$(cat data/02_intermediate/clean_sales/BR/2024-02-01.csv)" = "$(printf 'item,amount\ncoffee,5.00\nrice,12.00')"
test "$(cat data/02_intermediate/clean_sales/US/2024-02-01.csv)" = "$(printf 'item,amount\nbooks,12.25\npens,3.10')"
test ! -e data/02_intermediate/clean_sales/BR/2024-01-03.csv
test ! -e data/02_intermediate/clean_sales/US/2023-12-31.csv
test "$(cat data/03_primary/sales_total.csv)" = "$(printf 'partitions,rows,amount\n3,5,40.10')"
echo "kedro-partitioned migration example: OK"

# new-plugin: the generated project builds against the installed package, runs as written,
# and its own CTest test passes.
"$work/prefix/bin/steppar-host" new-plugin fresh_nodes --dir "$work" >/dev/null
cmake -S "$work/fresh_nodes" -B "$work/fresh_nodes/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/fresh_nodes/build" >/dev/null
(cd "$work/fresh_nodes" && "$work/prefix/bin/steppar-host" run pipeline.yml --quiet)
test "$(cat "$work/fresh_nodes/out/total.txt")" = "total: 3 partitions, 4 lines"
test "$(cat "$work/fresh_nodes/out/upper/nested/c.txt")" = "A PARTITION IN A SUBFOLDER"
grep -q "CMAKE_PREFIX_PATH=$work/prefix" "$work/fresh_nodes/README.md"
ctest --test-dir "$work/fresh_nodes/build" --output-on-failure > "$work/fresh_ctest.log" || { cat "$work/fresh_ctest.log"; exit 1; }
grep -q "fresh_nodes_nodes .*Passed" "$work/fresh_ctest.log"       # the generated unit test of the nodes
grep -q "fresh_nodes_pipeline .*Passed" "$work/fresh_ctest.log"
echo "new-plugin project: OK"
