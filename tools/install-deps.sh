#!/usr/bin/env bash
# Installs what steppar needs to build and test on Debian 12 (run as root). Boost is 1.81:
# never install libboost-dev / libboost-all-dev (1.74), which would remove the 1.81 packages.
#   install-deps.sh [--test] [--build-only] [--ccache]
# --test: also what only the test suite uses. --build-only: only what configuring and building
# need (test-all.sh installs the rest while the release build compiles). --ccache: also ccache.
set -euo pipefail
test=0 build_only=0 ccache=0
for arg in "$@"; do
  case $arg in
    --test) test=1 ;;
    --build-only) build_only=1 ;;
    --ccache) ccache=1 ;;
    *) echo "install-deps.sh: unknown option '$arg' (use --test, --build-only, --ccache)" >&2; exit 2 ;;
  esac
done
packages=(g++ cmake make ca-certificates
          libboost1.81-dev libboost-filesystem1.81-dev libboost-program-options1.81-dev libboost-test1.81-dev
          nlohmann-json3-dev libyaml-cpp-dev libssl-dev libxxhash-dev libpcre2-dev
          coreutils findutils)
# Doxygen builds the SDK reference, whose build fails on any undocumented public name; CMake
# looks for it when configuring, so it comes with the build.
if ((test)); then packages+=(doxygen); fi
if ((ccache)); then packages+=(ccache); fi
if ((!build_only)); then
  packages+=(slurmctld slurmd slurm-client munge)  # a real single-node Slurm for the cluster tests
  # For the tests: Graphviz (graph --format svg|png); sshfs, openssh-sftp-server, socat, iproute2:
  # a network filesystem and network namespaces for the shared_fs and multinode tests; chromium:
  # the report test opens `report --html` pages in a real headless browser; procps: the tests'
  # pgrep, pkill and ps (not in Debian's minimal base image).
  if ((test)); then packages+=(graphviz sshfs openssh-sftp-server socat iproute2 chromium procps); fi
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "steppar: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
