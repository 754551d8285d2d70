// Runners walk the expanded graph and decide *how* slices run; what a slice does is always
// executor.hpp. The sequential runner runs every step in this process, one after another; the
// parallel runner runs each slice and each plain node as a child process
// (`steppar-host run-slice` / `run-node`), at most `max_workers` at a time, and independent
// steps concurrently. Both produce byte-identical outputs.
#pragma once

#include "steppar/expand.hpp"
#include "steppar/project.hpp"

#include <filesystem>
#include <string>

namespace steppar {

enum class RunnerKind { sequential, parallel };

struct RunOptions {
    RunnerKind runner = RunnerKind::parallel;
    int max_workers = 0;                  ///< 0: the number of cores
    std::filesystem::path host_program;   ///< the steppar-host binary children run (parallel only)
};

/// Outcome of one step that ran somewhere else than in this function.
struct StepResult {
    std::size_t step;
    bool ok;
    std::string message;  ///< why it failed
};

/// Starts steps that do work (slices, plain nodes) and reports when they end.
class Launcher {
public:
    virtual ~Launcher() = default;
    virtual void start(std::size_t step) = 0;
    /// Blocks until some started step ends.
    virtual StepResult wait_any() = 0;
    virtual std::size_t running() const = 0;
    virtual std::size_t capacity() const = 0;
};

/// Runs the whole graph. Failed steps stop only what depends on them; at the end a NodeError
/// lists every failure (node, slice, partition, message).
void run_pipeline(Project& project, const ExpandedGraph& graph, const RunOptions& options);

/// One child process per step (Boost.Process), living in process_launcher.cpp.
std::unique_ptr<Launcher> make_process_launcher(Project& project, const ExpandedGraph& graph, const RunOptions& options);

}  // namespace steppar
