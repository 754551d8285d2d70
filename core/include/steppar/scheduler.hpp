// The scheduler: walks the expanded graph and decides *when* each step runs. It knows steps,
// their dependencies and a budget of cores, and nothing of files or processes: it asks a
// Launcher to start the steps that do work (slices, plain nodes) and StepActions for
// everything that touches the project (slicers and barriers, which run in the host; whether a
// step has work; whether a step that exited 0 vouched for itself). The runner (runner.hpp)
// feeds it real ones; the unit tests feed it fakes, so retries, fail-fast, blocked steps,
// interrupts and max_workers are tested without a process or a clock.
//
// Like Taskflow's executor it keeps a join counter per step: a step becomes ready when the
// steps it waits for have ended, and a failure blocks everything downstream at once, so no
// event rescans the graph. Ready steps start in graph order (the order a sequential runner
// walks), which keeps every run's order of events the same as before the scheduler existed.
#pragma once

#include "steppar/events.hpp"
#include "steppar/expand.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace steppar {

/// How a launched step ended.
struct StepResult {
    std::size_t step;
    bool ok;
    bool stopped;         ///< killed by us (fail-fast or interrupt), not a failure of its own
    std::string message;  ///< why it failed
    long long partitions = -1;  ///< how many it reported done (-1: none reported)
    int wait_status = -1;       ///< how its process ended, as waitpid(2) says (-1: not known)
    long pid = 0;               ///< its process (0: not known)
};

/// Starts steps that do work (slices, plain nodes) and reports their end.
class Launcher {
public:
    virtual ~Launcher() = default;
    /// Starts the step; `timeout` seconds (0: none) after which it is killed.
    virtual void start(std::size_t step, double timeout) = 0;
    /// Blocks until a started step ends, or until a termination signal arrives (then empty).
    virtual std::optional<StepResult> wait_any() = 0;
    virtual std::size_t running() const = 0;
    /// How many cores it may keep busy at once (--max-workers).
    virtual std::size_t capacity() const = 0;
    /// Terminates every running step; each still ends through wait_any(), `stopped`.
    virtual void stop_all() = 0;
    /// The termination signal received (0: none).
    virtual int interrupted_by() const = 0;
};

/// What a step that ended with exit code 0 left as its own word on the run.
struct Confirmation {
    std::map<std::string, long long> metrics;  ///< the nodes' counters
    std::size_t skipped = 0;                   ///< output partitions the nodes skipped
};

/// Whether a slice or plain node has work this run.
struct WorkDecision {
    bool work = true;
    std::string skipped;  ///< when not: how the skip is told ("": "up to date, skipped")
};

/// Everything the scheduler asks of the project. Each may throw Interrupted (the step is
/// stopped), UserError (bad input: the run stops, like validation) or Error (the step fails).
class StepActions {
public:
    virtual ~StepActions() = default;
    /// Runs a slicer or a barrier in this process.
    virtual void run_host_step(std::size_t step) = 0;
    /// Before a slice or plain node's first launch (a retry always runs).
    virtual WorkDecision decide(std::size_t step) = 0;
    /// How many partitions a slice step will process (-1: not known).
    virtual long long partitions(std::size_t step) = 0;
    /// After a launch exited 0: "" when the step's success marker for this run is there (and
    /// `confirmation` holds what it says), otherwise why the step did not succeed.
    virtual std::string confirm(std::size_t step, Confirmation& confirmation) = 0;
    /// After a launch failed: removes what a killed process could not (its temporary files).
    virtual void clean_after_failure(std::size_t step) = 0;
};

/// What the run says of one step beyond the graph.
struct StepPolicy {
    bool chosen = true;     ///< false: not selected (--nodes, --tags...), its outputs are taken as they are
    int cpus = 1;           ///< cores it counts for against the launcher's capacity (resources: {cpus})
    int retries = 0;        ///< launches after a failed one
    double timeout = 0;     ///< seconds per launch; 0: none
};

struct RunTally {
    std::size_t ran = 0;         ///< launches, retries included
    std::size_t up_to_date = 0;  ///< slices and nodes that had no work
    std::size_t failed = 0;
    std::size_t not_run = 0;     ///< blocked by a failure, a stop or an interrupt
    std::size_t slices_done = 0;
};

class Scheduler {
public:
    /// `unit_names[step.unit]` names each step's unit in events; `policies` has one per step.
    Scheduler(const ExpandedGraph& graph, std::vector<std::string> unit_names, std::vector<StepPolicy> policies,
              Launcher& launcher, StepActions& actions, bool fail_fast);

    /// Runs every step it can. Throws Interrupted after a termination signal (what finished is
    /// kept), NodeError listing every failure (a slice's failure is listed by its barrier, which
    /// waits for all its slices, unless fail-fast stopped the run first), or what an action's
    /// UserError was. `tally` is filled either way.
    void run(RunTally& tally);

private:
    enum class State { waiting, running, done, failed, skipped };

    void release_dependents(std::size_t step);
    void block_dependents(std::size_t step);
    void skip_every_waiting_step();
    bool try_step(std::size_t step);  // false: it must wait for cores
    void launch(std::size_t step);
    void handle(StepResult result);
    void finish(std::size_t step, State state);
    /// `ended`: the launch that ended so (its process's pid and wait status go into the event).
    void fail(std::size_t step, const std::string& message, const StepResult* ended = nullptr);
    void stop(std::size_t step, const std::string& message, const StepResult* ended = nullptr);
    std::size_t cores(std::size_t step) const;
    double seconds_since_start(std::size_t step) const;
    StepInfo info(std::size_t step) const;

    const ExpandedGraph& graph_;
    std::vector<std::string> unit_names_;
    std::vector<StepPolicy> policies_;
    Launcher& launcher_;
    StepActions& actions_;
    bool fail_fast_;

    std::vector<std::vector<std::size_t>> dependents_;
    std::vector<std::size_t> waiting_for_;  // the join counters
    std::vector<State> state_;
    std::vector<int> attempts_;
    std::vector<double> began_;          // seconds on the steady clock
    std::set<std::size_t> ready_;        // steps whose join counter reached zero, in graph order
    std::vector<std::string> failures_;
    std::size_t open_ = 0;               // steps not yet ended
    std::size_t busy_ = 0;               // cores given to running steps
    bool stopping_ = false;              // fail-fast triggered: start nothing new
    RunTally* tally_ = nullptr;
};

}  // namespace steppar
