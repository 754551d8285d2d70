#include "steppar/runner.hpp"

#include "steppar/error.hpp"
#include "steppar/events.hpp"
#include "steppar/executor.hpp"
#include "steppar/log.hpp"
#include "steppar/marker.hpp"
#include "steppar/run_lock.hpp"
#include "steppar/step_selection.hpp"
#include "steppar/temporary_files.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>

namespace fs = std::filesystem;

namespace steppar {
namespace {

enum class State { waiting, running, done, failed, skipped };

// Temporary files left by writers that died (SIGKILL, power loss) in the folders one unit
// writes; they are never partitions, but they must not pile up either.
std::size_t sweep_unit_outputs(const Project& project, const Unit& unit) {
    std::size_t removed = 0;
    for (const auto& n : unit.nodes)
        for (const auto& out : n.outputs) {
            const Dataset& d = project.pipeline().catalog().at(out);
            // A file dataset's folder may hold anything: only its own temporaries go.
            removed += d.partitioned() ? remove_stale_temporaries(d.path)
                                       : remove_stale_temporaries(d.path.parent_path(), d.path.filename().string());
        }
    return removed;
}

// At the start of a run: the state folder's own files, and the outputs of whole-function nodes.
// The output folders of units over partitions (intermediates included) are swept by their
// slicer, during the scan it makes anyway: a second walk of a million files costs a second.
void sweep_stale_temporaries(Project& project) {
    std::size_t removed = 0;
    std::error_code ec;
    const fs::path intermediates = project.state().intermediate_root();
    for (const auto& entry : fs::directory_iterator(project.state().root(), ec))
        if (entry.path() != intermediates) removed += entry.is_directory(ec) ? remove_stale_temporaries(entry.path()) : remove_if_stale_temporary(entry.path().string());
    for (const auto& unit : project.pipeline().units())
        if (!unit.replicated() && project.function(unit.nodes.front()).kind == NodeKind::whole) removed += sweep_unit_outputs(project, unit);
    if (removed) log("removed " + std::to_string(removed) + " temporary file(s) left by interrupted writers");
}

const char* unit_kind_name(UnitKind kind) {
    switch (kind) {
    case UnitKind::node: return "node";
    case UnitKind::multinode: return "multinode";
    case UnitKind::multipipeline: return "multipipeline";
    }
    return "?";
}

// "" when the step's own success marker for this run is there; otherwise why it is not.
std::string unconfirmed(Project& project, const Step& step, const Unit& unit, const std::map<std::size_t, SlicePlan>& plans,
                        Marker& confirmed) {
    const bool whole = step.kind == StepKind::node && project.function(unit.nodes.front()).kind == NodeKind::whole;
    const int slice = step.kind == StepKind::slice ? step.slice : 0;
    const fs::path path = whole ? project.state().node_marker(unit.name) : project.state().marker(unit.name, slice);
    std::optional<Marker> marker;
    try {
        marker = read_marker(path);
    } catch (const StateError& e) {
        return step.name + " ended with a damaged marker: " + e.what();
    }
    const auto plan = plans.find(step.unit);
    if (marker && marker->success && marker->unit == unit.name &&
        (whole || (plan != plans.end() && marker->plan_id == plan->second.plan_id && marker->slice == slice))) {
        confirmed = std::move(*marker);
        return {};
    }
    const std::string partition = whole ? std::string() : partition_in_progress(project, unit, slice);
    return step.name + " ended (exit code 0)" + (partition.empty() ? "" : " on partition '" + partition + "'") +
           " without reporting success: a node ended the process itself (no success marker for this run at '" + path.string() + "')";
}

struct Tally {
    std::size_t ran = 0, up_to_date = 0, failed = 0, not_run = 0, slices_done = 0;
};

// The walk over the graph; run_pipeline() wraps it with the run's first and last events.
void walk(Project& project, const ExpandedGraph& graph, const RunOptions& options, const std::vector<bool>& chosen,
          Launcher& launcher, Tally& tally) {
    using clock = std::chrono::steady_clock;
    const auto& steps = graph.steps;
    const auto& units = project.pipeline().units();
    std::vector<State> state(steps.size(), State::waiting);
    std::vector<int> attempts(steps.size(), 0);
    std::vector<clock::time_point> began(steps.size());
    std::map<std::size_t, SlicePlan> plans;  // unit -> plan of this run
    std::vector<std::string> failures;
    std::size_t open = steps.size();
    bool stopping = false;  // fail-fast triggered: start nothing new

    auto info = [&](std::size_t i) {
        return StepInfo{steps[i].name, units[steps[i].unit].name, steps[i].kind, steps[i].slice};
    };
    auto partitions_of = [&](std::size_t i) -> long long {
        if (steps[i].kind != StepKind::slice) return -1;
        const auto plan = plans.find(steps[i].unit);
        return plan == plans.end() ? -1 : static_cast<long long>(plan->second.slices[static_cast<std::size_t>(steps[i].slice)].size());
    };
    auto seconds_since = [&](std::size_t i) { return std::chrono::duration<double>(clock::now() - began[i]).count(); };
    auto finish = [&](std::size_t i, State result) {
        state[i] = result;
        --open;
    };
    auto fail = [&](std::size_t i, const std::string& message) {
        finish(i, State::failed);
        ++tally.failed;
        StepEnd end{StepStatus::failed, seconds_since(i), -1, message, attempts[i], attempts[i]};
        events().step_ended(info(i), end);
        // Slice failures are reported by their barrier, which lists all of them, unless
        // fail-fast stops the run before the barrier.
        if (steps[i].kind != StepKind::slice || options.fail_fast) failures.push_back(message);
        if (options.fail_fast && !stopping) {
            stopping = true;
            if (launcher.running() > 0) warn("--fail-fast: stopping " + std::to_string(launcher.running()) + " running step(s)");
            launcher.stop_all();
        }
    };

    std::size_t busy = 0;  // cores the running steps were given
    auto cores = [&](std::size_t i) {
        const int wanted = units[steps[i].unit].options.resources.cpus;
        return std::clamp<std::size_t>(wanted > 0 ? static_cast<std::size_t>(wanted) : 1, 1, launcher.capacity());
    };

    // Ended by a stop request, without failing: what it did is kept for the rerun.
    auto stopped = [&](std::size_t i, const std::string& message) {
        finish(i, State::skipped);
        const int attempt = std::max(attempts[i], 1);  // a slicer or barrier has no launches
        events().step_ended(info(i), {StepStatus::stopped, seconds_since(i), -1, message, attempt, attempt});
    };

    while (open > 0) {
        bool progressed = false;
        for (std::size_t i = 0; i < steps.size() && !launcher.interrupted_by(); ++i) {
            if (state[i] != State::waiting) continue;
            const Step& step = steps[i];
            bool ready = true, blocked = stopping;
            for (const auto d : step.depends_on) {
                // A barrier waits for its slices to end either way, so it can list every failure.
                const bool barrier = step.kind == StepKind::barrier;
                if (state[d] == State::skipped || (state[d] == State::failed && !barrier)) blocked = true;
                if (!(state[d] == State::done || (barrier && state[d] == State::failed))) ready = false;
            }
            if (blocked) {
                finish(i, State::skipped);
                progressed = true;
                continue;
            }
            if (!ready) continue;
            if (!chosen[i]) {  // not selected (--nodes/--tags): its outputs are taken as they are
                finish(i, State::done);
                progressed = true;
                continue;
            }
            const Unit& unit = units[step.unit];
            const SlicerOptions slicing{options.force, options.partitions, options.only_missing};
            if (step.kind == StepKind::slicer || step.kind == StepKind::barrier) {
                began[i] = clock::now();
                events().step_started(info(i), -1);
                try {
                    if (step.kind == StepKind::slicer) {
                        const SlicePlan& plan = plans[step.unit] = run_slicer(project, unit, slice_count(graph, step.unit), slicing);
                        events().unit_planned(unit.name, plan.partition_count());
                    } else {
                        check_barrier(project, unit);
                    }
                    finish(i, State::done);
                    events().step_ended(info(i), {StepStatus::done, seconds_since(i), -1, {}, 1, 1});
                } catch (const Interrupted& e) {  // stopped at an interruption point
                    stopped(i, e.what());
                } catch (const UserError&) {
                    throw;  // bad input (e.g. strict zipping): stop, like validation
                } catch (const Error& e) {
                    fail(i, e.what());
                }
                progressed = true;
                continue;
            }
            // A slice that needs N cores (resources: {cpus: N}) counts as N of --max-workers.
            if (launcher.running() > 0 && busy + cores(i) > launcher.capacity()) continue;
            // The one decision (freshness.hpp): a slice runs when its part of the plan has
            // partitions; a plain node over partitions is planned here like a unit of one slice;
            // a whole-function node runs when its fingerprint or outputs changed. A retry runs.
            bool work = attempts[i] > 0;
            std::string skipped;  // how the skip is told ("" : "up to date, skipped")
            if (!work) {
                try {
                    if (step.kind == StepKind::slice) {
                        const SlicePart part = part_of(plans.at(step.unit), step.slice);
                        work = slice_needs_run(project.state(), unit, part);
                        if (part.partitions.empty()) skipped = "nothing to run";
                    } else if (project.function(unit.nodes.front()).kind == NodeKind::partition) {
                        const SlicePlan& plan = plans[step.unit] = run_slicer(project, unit, 1, slicing);
                        work = slice_needs_run(project.state(), unit, part_of(plan, 0));
                    } else {
                        work = options.force || whole_node_needs_run(project, unit);
                        std::error_code ec;
                        // Only the node's own marker, written by this attempt, may vouch for it.
                        if (work) fs::remove(project.state().node_marker(unit.name), ec);
                    }
                } catch (const Interrupted& e) {
                    began[i] = clock::now();
                    stopped(i, e.what());
                    progressed = true;
                    continue;
                } catch (const UserError&) {
                    throw;
                } catch (const Error& e) {
                    began[i] = clock::now();
                    fail(i, e.what());
                    progressed = true;
                    continue;
                }
            }
            if (!work) {
                ++tally.up_to_date;
                finish(i, State::done);
                events().step_ended(info(i), {StepStatus::up_to_date, 0, partitions_of(i), skipped, 1, 1});
                progressed = true;
                continue;
            }
            state[i] = State::running;
            ++attempts[i];
            ++tally.ran;
            began[i] = clock::now();
            events().step_started(info(i), partitions_of(i));
            launcher.start(i, unit.options.timeout_seconds > 0 ? unit.options.timeout_seconds : options.slice_timeout);
            busy += cores(i);
            progressed = true;
        }
        if (launcher.running() > 0) {
            auto result = launcher.wait_any();
            if (!result) continue;  // a signal: the launcher is stopping the children
            const std::size_t i = result->step;
            busy -= cores(i);
            const Unit& unit = units[steps[i].unit];
            const int retries = unit.options.retries >= 0 ? unit.options.retries : options.retries;
            // A child killed with SIGKILL could not remove its temporary files: do it now.
            Marker confirmed;  // its success marker: counters and skipped outputs for the events
            if (result->ok && !result->stopped) {
                // Exit code 0 is not success: the step must have said so itself.
                if (const std::string missing = unconfirmed(project, steps[i], unit, plans, confirmed); !missing.empty()) {
                    result->ok = false;
                    result->message = missing;
                }
            }
            if (!result->ok) sweep_unit_outputs(project, unit);
            if (result->ok) {
                finish(i, State::done);
                const long long partitions = steps[i].kind == StepKind::slice ? partitions_of(i) : result->partitions;
                StepEnd end{StepStatus::done, seconds_since(i), partitions, {}, attempts[i], attempts[i]};
                end.metrics = &confirmed.metrics;
                end.skipped = confirmed.skipped;
                events().step_ended(info(i), end);
            } else if (result->stopped || launcher.interrupted_by()) {
                stopped(i, result->message);
            } else if (attempts[i] <= retries && !stopping) {
                events().step_ended(info(i), {StepStatus::retrying, seconds_since(i), -1, result->message, attempts[i], retries + 1});
                state[i] = State::waiting;
            } else {
                fail(i, result->message);
            }
        } else if (launcher.interrupted_by() || !progressed) {
            break;  // nothing runs and nothing can start
        }
    }

    for (std::size_t i = 0; i < steps.size(); ++i) {
        tally.slices_done += state[i] == State::done && steps[i].kind == StepKind::slice;
        tally.not_run += state[i] == State::skipped || state[i] == State::waiting;
    }
    if (const int signal = launcher.interrupted_by()) {
        throw Interrupted("interrupted by " + signal_name(signal) + ": " + std::to_string(tally.slices_done) +
                              " slice(s) finished and are kept; rerun the same command to resume",
                          signal);
    }
    if (!failures.empty())
        throw NodeError(join(failures, "; ") +
                        (tally.not_run ? " (" + std::to_string(tally.not_run) + " dependent step(s) not run)" : std::string()));
}

}  // namespace

void run_pipeline(Project& project, const ExpandedGraph& graph, const RunOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    RunLock lock(project.state().lock());
    wait_for_previous_steps(project.state().steps_lock(), 10);  // a killed run's steps are dying
    sweep_stale_temporaries(project);
    const std::vector<bool> chosen = select_steps(project.pipeline(), graph, {options.nodes, options.tags, options.from_nodes, options.to_nodes});  // a typo stops here
    const std::unique_ptr<Launcher> launcher = make_process_launcher(project, graph, options);

    RunStart start;
    const std::string pipeline = project.pipeline_file().filename().string();
    start.pipeline = pipeline;
    start.runner = options.runner == RunnerKind::sequential ? "sequential" : "parallel";
    start.workers = launcher->capacity();
    start.steps = graph.steps.size();
    for (std::size_t u = 0; u < project.pipeline().units().size(); ++u) {
        const Unit& unit = project.pipeline().units()[u];
        start.units.push_back({unit.name, unit_kind_name(unit.kind), unit.replicated() ? static_cast<std::size_t>(slice_count(graph, u)) : 1});
    }
    events().run_started(start);

    Tally tally;
    RunEnd end;
    end.steps = graph.steps.size();
    auto finish = [&](const char* status, int exit_code, std::string_view message) {
        end.status = status;
        end.exit_code = exit_code;
        end.message = message;
        end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        end.ran = tally.ran;
        end.up_to_date = tally.up_to_date;
        end.failed = tally.failed;
        end.not_run = tally.not_run;
        events().run_ended(end);
    };
    try {
        walk(project, graph, options, chosen, *launcher, tally);
    } catch (const Interrupted& e) {
        finish("interrupted", e.exit_code(), e.what());
        throw;
    } catch (const Error& e) {
        finish("failed", e.exit_code(), e.what());
        throw;
    }
    finish("done", 0, {});
}

}  // namespace steppar
