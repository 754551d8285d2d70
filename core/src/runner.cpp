#include "steppar/runner.hpp"

#include "steppar/error.hpp"
#include "steppar/events.hpp"
#include "steppar/executor.hpp"
#include "steppar/log.hpp"
#include "steppar/run_lock.hpp"
#include "steppar/state_folder.hpp"
#include "steppar/run_trace.hpp"
#include "steppar/scheduler.hpp"
#include "steppar/step_selection.hpp"
#include "steppar/temporary_files.hpp"
#include "steppar/vouching.hpp"

#include <chrono>
#include <map>

namespace fs = std::filesystem;

namespace steppar {
namespace {

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

// The scheduler's questions, answered from the project's files: slicers write plans, barriers
// check markers and the ledger, freshness decides what has work, markers confirm success.
class ProjectActions final : public StepActions {
public:
    ProjectActions(Project& project, const ExpandedGraph& graph, const RunOptions& options)
        : project_(project), graph_(graph), slicing_{options.force, options.partitions, options.only_missing}, force_(options.force) {}

    void run_host_step(std::size_t i) override {
        const Step& step = graph_.steps[i];
        const Unit& unit = unit_of(i);
        if (step.kind == StepKind::slicer) {
            const SlicePlan& plan = plans_[step.unit] = run_slicer(project_, unit, slice_count(graph_, step.unit), slicing_);
            events().unit_planned(unit.name, plan.partition_count());
        } else {
            check_barrier(project_, unit);
        }
    }

    // The one decision (freshness.hpp): a slice runs when its part of the plan has partitions;
    // a plain node over partitions is planned here like a unit of one slice; a whole-function
    // node runs when its fingerprint or outputs changed.
    WorkDecision decide(std::size_t i) override {
        const Step& step = graph_.steps[i];
        const Unit& unit = unit_of(i);
        WorkDecision decision;
        if (step.kind == StepKind::slice) {
            const SlicePart part = part_of(plans_.at(step.unit), step.slice);
            decision.work = needs_run(project_.state(), unit, part, force_);
            if (part.partitions.empty()) decision.skipped = "nothing to run";
        } else if (project_.function(unit.nodes.front()).kind == NodeKind::partition) {
            const SlicePlan& plan = plans_[step.unit] = run_slicer(project_, unit, 1, slicing_);
            decision.work = needs_run(project_.state(), unit, part_of(plan, 0), force_);
        } else {
            decision.work = needs_run(project_, unit, force_);
            // Only the node's own marker, written by this attempt, may vouch for it; the last
            // one is kept aside for the node to know what it wrote then.
            if (decision.work) retire_node_marker(project_.state(), unit.name);
        }
        return decision;
    }

    long long partitions(std::size_t i) override {
        const Step& step = graph_.steps[i];
        if (step.kind != StepKind::slice) return -1;
        const auto plan = plans_.find(step.unit);
        return plan == plans_.end() ? -1 : static_cast<long long>(plan->second.slices[static_cast<std::size_t>(step.slice)].size());
    }

    std::string confirm(std::size_t i, Confirmation& confirmation) override {
        const Step& step = graph_.steps[i];
        const Unit& unit = unit_of(i);
        const bool whole = step.kind == StepKind::node && project_.function(unit.nodes.front()).kind == NodeKind::whole;
        const int slice = whole ? -1 : step.kind == StepKind::slice ? step.slice : 0;
        const auto plan = plans_.find(step.unit);
        const std::string plan_id = whole || plan == plans_.end() ? std::string() : plan->second.plan_id;
        MarkerReading reading = read_step_marker(project_.state(), {unit.name, slice, plan_id});
        if (reading.verdict == MarkerVerdict::damaged) return step.name + " ended with a damaged marker: " + reading.damage;
        if (reading.vouches()) {
            confirmation.metrics = std::move(reading.marker->metrics);
            confirmation.skipped = reading.marker->skipped;
            return {};
        }
        const fs::path path = whole ? project_.state().node_marker(unit.name) : project_.state().marker(unit.name, slice);
        const std::string partition = whole ? std::string() : partition_in_progress(project_, unit, slice);
        return step.name + " ended (exit code 0)" + (partition.empty() ? "" : " on partition '" + partition + "'") +
               " without reporting success: a node ended the process itself (no success marker for this run at '" + path.string() + "')";
    }

    // A child killed with SIGKILL could not remove its temporary files.
    void clean_after_failure(std::size_t i) override { sweep_unit_outputs(project_, unit_of(i)); }

private:
    const Unit& unit_of(std::size_t i) const { return project_.pipeline().units()[graph_.steps[i].unit]; }

    Project& project_;
    const ExpandedGraph& graph_;
    const SlicerOptions slicing_;
    const bool force_;
    std::map<std::size_t, SlicePlan> plans_;  // unit -> plan of this run
};

}  // namespace

void run_pipeline(Project& project, const ExpandedGraph& graph, const RunOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    RunLock lock(project.state().lock());
    claim_state_folder(project.state().root(), project.pipeline_file());
    wait_for_previous_steps(project.state().steps_lock(), 10);  // a killed run's steps are dying
    sweep_stale_temporaries(project);
    const std::vector<bool> chosen = select_steps(project.pipeline(), graph, {options.nodes, options.tags, options.from_nodes, options.to_nodes});  // a typo stops here
    // Before the launcher: the fork server and every step must see the trace's environment.
    const std::unique_ptr<RunTrace> trace = RunTrace::start(project.state(), options.trace_file);
    const TraceTap tap(trace.get());
    const std::unique_ptr<Launcher> launcher = make_process_launcher(project, graph, options);

    RunStart start;
    const std::string pipeline = project.pipeline_file().filename().string();
    start.pipeline = pipeline;
    if (trace) start.run_id = trace->run_id();
    start.runner = options.runner == RunnerKind::sequential ? "sequential" : "parallel";
    start.workers = launcher->capacity();
    start.steps = graph.steps.size();
    for (std::size_t u = 0; u < project.pipeline().units().size(); ++u) {
        const Unit& unit = project.pipeline().units()[u];
        start.units.push_back({unit.name, unit_kind_name(unit.kind), unit.replicated() ? static_cast<std::size_t>(slice_count(graph, u)) : 1});
    }
    events().run_started(start);

    const auto& units = project.pipeline().units();
    std::vector<std::string> unit_names;
    for (const Unit& unit : units) unit_names.push_back(unit.name);
    std::vector<StepPolicy> policies;
    for (std::size_t i = 0; i < graph.steps.size(); ++i) {
        const UnitOptions& unit = units[graph.steps[i].unit].options;
        policies.push_back({chosen[i], unit.resources.cpus, unit.retries >= 0 ? unit.retries : options.retries,
                            unit.timeout_seconds > 0 ? unit.timeout_seconds : options.slice_timeout});
    }
    ProjectActions actions(project, graph, options);
    Scheduler scheduler(graph, std::move(unit_names), std::move(policies), *launcher, actions, options.fail_fast);

    RunTally tally;
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
        if (!trace) return;
        // Steps that never ended (never started, or blocked) get a row too.
        for (std::size_t i = 0; i < graph.steps.size(); ++i) {
            const Step& step = graph.steps[i];
            if (trace->has_step_row(step.name)) continue;
            trace->step_row({step.name, units[step.unit].name, step.kind, step.slice},
                            TraceStatus::skipped,
                            !chosen[i] ? "not selected (--nodes, --tags, --from-nodes, --to-nodes): its outputs are taken as they are"
                                       : "not run: a step it waits for did not succeed, or the run stopped");
        }
        trace->finish();
    };
    try {
        scheduler.run(tally);
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
