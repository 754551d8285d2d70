#!/usr/bin/env bash
# Checks that the CTest tests made from a Boost.Test binary's sources (tests/CMakeLists.txt,
# steppar_add_boost_tests) are all it has: BINARY SUITES|CASES COUNT [SUITE=CASES...]. With
# SUITES, COUNT must be the number of top-level suites and no case may sit outside one; with
# CASES, COUNT the number of cases. Each SUITE=CASES (a suite registered case by case) must have
# exactly that many cases.
set -euo pipefail
binary=$1 mode=$2 registered=$3
shift 3
listing=$("$binary" --list_content 2>&1)
top=$(grep -c '^[^ ]' <<<"$listing")
cases=$(grep -c '^    [^ ]' <<<"$listing" || true)
if [ "$mode" = SUITES ]; then
  # A top-level case has no cases under it: every top-level entry must be followed by indented ones.
  cases_at_top=$(awk '/^[^ ]/ { if (name != "" && !inner) print name; name = $0; inner = 0; next } /^    / { inner = 1 } END { if (name != "" && !inner) print name }' <<<"$listing")
  if [ -n "$cases_at_top" ]; then echo "cases outside any suite (they would never run in ctest): $cases_at_top" >&2; exit 1; fi
  if [ "$top" != "$registered" ]; then echo "$binary has $top suites, ctest registers $registered: re-run cmake" >&2; exit 1; fi
else
  if [ "$cases" != "$registered" ]; then echo "$binary has $cases cases, ctest registers $registered: re-run cmake" >&2; exit 1; fi
fi
for split in "$@"; do
  suite=${split%%=*} expected=${split#*=}
  have=$(awk -v suite="$suite" '/^[^ ]/ { inside = ($0 ~ "^" suite "\\*?$"); next } inside && /^    [^ ]/ { n++ } END { print n + 0 }' <<<"$listing")
  if [ "$have" != "$expected" ]; then echo "$binary has $have cases in $suite, ctest registers $expected: re-run cmake" >&2; exit 1; fi
done
echo "all $registered registered ($mode${*:+; by case: $*})"
