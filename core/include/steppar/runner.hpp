// Runners walk the expanded graph and decide *how* slices run; what a slice does is always
// executor.hpp, in a child process (`steppar-host run-slice` / `run-node`). The sequential
// runner starts one child at a time; the parallel runner up to `max_workers` at once and runs
// independent steps concurrently. Both produce byte-identical outputs. Slicers and barriers are
// cheap bookkeeping and run in the host.
//
// Reliability lives here: slices whose marker says they are up to date are skipped, failed
// slices are retried, slow ones are killed after their timeout, SIGINT/SIGTERM stop every child
// (and its process group) before the host exits, and --fail-fast stops everything at the first
// failure.
#pragma once

#include "steppar/error.hpp"
#include "steppar/expand.hpp"
#include "steppar/interruption.hpp"
#include "steppar/project.hpp"
#include "steppar/scheduler.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace steppar {

enum class RunnerKind { sequential, parallel };

/// How a local runner starts a step's process: forked from the fork server (~1 ms, see
/// fork_server.hpp), or a fresh `steppar-host run-slice` exec'd for each step (~7 ms; for
/// plugins that cannot live through fork()).
enum class LaunchKind { fork_server, exec };

struct RunOptions {
    RunnerKind runner = RunnerKind::parallel;
    int max_workers = 0;                 ///< 0: the cores this process may use (usable_cores.hpp)
    LaunchKind launch = LaunchKind::fork_server;
    std::filesystem::path host_program;  ///< the steppar-host binary children run
    bool fail_fast = false;              ///< stop every slice at the first failure
    double slice_timeout = 0;            ///< seconds; 0: none (a unit's `timeout:` wins)
    int retries = 0;                     ///< retries of a failed slice (a unit's `retries:` wins)
    bool force = false;                  ///< ignore markers: re-slice and rerun everything
    bool only_missing = false;           ///< adopt unrecorded partitions whose outputs are newer than inputs
    bool quiet = false;                  ///< children print only errors
    std::string partitions;              ///< regex: slicers hand out only matching partitions
    std::vector<std::string> nodes;      ///< run only these steps, nodes or units (empty: all)
    std::vector<std::string> tags;       ///< run only units carrying one of these tags (empty: all)
    std::vector<std::string> from_nodes; ///< run only these units and what depends on them (empty: all)
    std::vector<std::string> to_nodes;   ///< run only these units and what they depend on (empty: all)
    std::vector<std::string> params;     ///< --param NAME=VALUE overrides, handed to exec'd children
    std::filesystem::path trace_file;    ///< --trace FILE: the run's trace also there (run_trace.hpp)
};

/// Runs the whole graph, holding the state folder's lock. Failed steps stop only what depends
/// on them (unless fail_fast); at the end a NodeError lists every failure (node, slice,
/// partition, message).
void run_pipeline(Project& project, const ExpandedGraph& graph, const RunOptions& options);

/// Child processes via Boost.Process (process_launcher.cpp).
std::unique_ptr<Launcher> make_process_launcher(Project& project, const ExpandedGraph& graph, const RunOptions& options);

}  // namespace steppar
