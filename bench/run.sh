#!/usr/bin/env bash
# The steppar benchmark suite in one command, for a fresh Debian 12 machine (as root):
# installs the packages that are missing, builds the Release targets into build-bench/ at the
# repository root (incrementally when it exists), then runs bench/bench.py with the arguments
# given, e.g.  bash bench/run.sh --quick   or   bash bench/run.sh --only cpu-bound --repeat 3
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo/build-bench"
packages=(g++ cmake make libboost1.81-dev libboost-filesystem1.81-dev libboost-program-options1.81-dev
          nlohmann-json3-dev libyaml-cpp-dev libssl-dev parallel snakemake gnuplot-nox python3)

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "run.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

targets=(steppar-host steppar_builtin steppar_bench bench-work bench-scale)
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
echo "run.sh: building ${targets[*]} into $build" >&2
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >/dev/null

exec /usr/bin/python3 "$repo/bench/bench.py" --build "$build" "$@"
