#!/usr/bin/env bash
# The plugin boundary as a node author meets it, with nothing but a compiler and the SDK
# headers (no CMake package, no Boost):
#   1. the SDK headers pull in no Boost header (g++ -M lists what a plugin reads);
#   2. a plugin built by hand exports one symbol, its descriptor, and runs under steppar-host;
#   3. one node name exported twice, or two setup functions, is a link error naming it.
set -euo pipefail
host=$1
src=$2
cxx=${CXX:-g++}
work=$(mktemp -d "${TMPDIR:-/tmp}/steppar-sdk-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
flags=(-std=c++17 -O1 -fPIC -Wall -Wextra -Werror -I "$src/sdk/include")

# 1. What a plugin's translation unit reads: the SDK and the C++ standard library only.
printf '#include <steppar/sdk.hpp>\n#include <steppar/io.hpp>\n#include <steppar/testing.hpp>\n' > all.cpp
"$cxx" "${flags[@]}" -M all.cpp > deps.txt
if grep -q 'boost/' deps.txt; then
    echo "the SDK headers include Boost:"; grep -o '[^ ]*boost/[^ ]*' deps.txt | head; exit 1
fi

# 2. A plugin in two source files, built by hand, loaded and run.
cat > upper.cpp <<'CPP'
#include <steppar/sdk.hpp>
#include <cctype>
void upper(steppar::PartitionContext& ctx) {
    std::string text = ctx.input().read_text();
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ctx.output().write(text);
}
STEPPAR_NODE(upper)
CPP
cat > total.cpp <<'CPP'
#include <steppar/sdk.hpp>
void total(steppar::WholeContext& ctx) {
    std::size_t bytes = 0;
    for (const auto& part : ctx.input().partitions()) bytes += part.file.read_text().size();
    ctx.output().write(std::to_string(bytes) + "\n");
}
STEPPAR_NODE(total)
CPP
"$cxx" "${flags[@]}" -shared -fvisibility=hidden -DSTEPPAR_PLUGIN_NAME='"by_hand"' -DSTEPPAR_PLUGIN_VERSION='"1.2.3"' \
    upper.cpp total.cpp -o by_hand.so
exported=$(nm -D --defined-only by_hand.so | awk '{print $3}' | grep -v '^_' || true)
[ "$exported" = steppar_plugin_descriptor ] || { echo "by_hand.so exports: $exported"; exit 1; }
mkdir -p data/docs
printf 'abc\n' > data/docs/a.txt
printf 'hello\n' > data/docs/b.txt
cat > pipeline.yml <<'YML'
plugins: {mine: ./by_hand.so}
catalog:
  docs:  {type: partitioned, path: data/docs, suffix: .txt}
  loud:  {type: partitioned, path: out/loud, suffix: .txt}
  bytes: {type: file, path: out/bytes.txt}
nodes:
  - {name: shout, func: mine.upper, inputs: [docs], outputs: [loud], slices: 2}
  - {name: count, func: mine.total, inputs: [loud], outputs: [bytes]}
YML
"$host" validate pipeline.yml > validate.txt
grep -q "by_hand 1.2.3" validate.txt || { echo "validate does not show the plugin's name and version:"; cat validate.txt; exit 1; }
"$host" run pipeline.yml --log-format plain 2> run.log || { cat run.log; exit 1; }
[ "$(cat out/loud/a.txt)" = ABC ] && [ "$(cat out/loud/b.txt)" = HELLO ] && [ "$(cat out/bytes.txt)" = 10 ]

# 3. Duplicates fail to link, naming what is duplicated.
cp upper.cpp upper_again.cpp
if "$cxx" "${flags[@]}" -shared upper.cpp upper_again.cpp -o twice.so 2> twice.log; then
    echo "a node exported twice linked"; exit 1
fi
grep -q 'multiple definition of `steppar_node_upper' twice.log || { cat twice.log; exit 1; }
cat > setup_a.cpp <<'CPP'
#include <steppar/sdk.hpp>
void open_a(steppar::SliceContext&) {}
STEPPAR_SETUP(open_a)
CPP
sed 's/open_a/open_b/g' setup_a.cpp > setup_b.cpp
if "$cxx" "${flags[@]}" -shared upper.cpp setup_a.cpp setup_b.cpp -o two_setups.so 2> setups.log; then
    echo "two setup functions linked"; exit 1
fi
grep -q 'multiple definition of `steppar_plugin_setup' setups.log || { cat setups.log; exit 1; }
echo "sdk boundary: OK"
