#!/usr/bin/env bash
# README's demo command: installs dependencies, builds steppar, generates 1,000 documents and
# runs the demo pipeline with the parallel runner.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bash "$root/tools/install-deps.sh"
build=${STEPPAR_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target steppar-host steppar_builtin
work=${STEPPAR_DEMO_DIR:-$root/build/demo}
mkdir -p "$work"
cp "$root/examples/demo/pipeline.yml" "$work/"
rm -rf "$work/data" "$work/out" "$work/.steppar"
bash "$root/examples/demo/make-data.sh" "$work/data/docs" 1000
"$build/bin/steppar-host" run "$work/pipeline.yml" --runner parallel
echo
echo "Outputs are under $work/out:"
echo "  counts/      one wc result per document     ($(find "$work/out/counts" -type f | wc -l) files)"
echo "  total.json   $(cat "$work/out/total.json")"
echo "  long_words/  words of 5+ letters per document"
echo "  digests/     SHA-256 of each lowercased document"
echo "Slice plans, markers and ledgers: $work/.steppar/units/*/"
"$build/bin/steppar-host" report "$work/pipeline.yml" --html "$work/report.html"
echo "How the run went (timeline per slice, slowest partitions): open $work/report.html"
echo "Why an output was made: $build/bin/steppar-host why $work/pipeline.yml $work/out/total.json"
echo "Add, edit or delete a file under $work/data/docs and run again: only that document is processed"
echo "  $build/bin/steppar-host run $work/pipeline.yml   (steppar-host status $work/pipeline.yml shows what would run)"
