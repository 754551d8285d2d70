#include "steppar/slice_execution.hpp"

#include "lifecycle.hpp"
#include "node_context.hpp"
#include "steppar/atomic_file.hpp"
#include "steppar/barrier.hpp"
#include "steppar/error.hpp"
#include "steppar/events.hpp"
#include "steppar/expand.hpp"
#include "steppar/files.hpp"
#include "steppar/definition_store.hpp"
#include "steppar/freshness.hpp"
#include "steppar/ledger.hpp"
#include "steppar/log.hpp"
#include "steppar/marker.hpp"
#include "steppar/vouching.hpp"
#include "steppar/planning.hpp"
#include "steppar/step_reaper.hpp"
#include "steppar/step_trace.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

double seconds_since(std::chrono::steady_clock::time_point started) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

// The name a step goes by in messages: "count-slice-2", or a plain node's own name.
std::string step_label(const Unit& unit, int slice) { return unit.replicated() ? slice_name(unit.name, slice) : unit.name; }

void run_whole_node(Project& project, const Unit& unit) {
    const auto started = std::chrono::steady_clock::now();
    const Pipeline& pipeline = project.pipeline();
    const Node& node = unit.nodes.front();
    std::vector<fs::path> written_folders;
    for (const auto& out : node.outputs) {
        const Dataset& d = pipeline.catalog().at(out);
        std::error_code ec;
        written_folders.push_back(d.partitioned() ? d.path : d.path.parent_path());
        fs::create_directories(written_folders.back(), ec);
    }
    // Opened before the node writes: the sync at the end reports every failed write-back.
    FilesystemSync syncs(std::move(written_folders));
    const fs::path marker_path = project.state().node_marker(unit.name);
    // The last marker lists the files the node wrote then: those it does not write now are
    // retracted. Set aside first (a crash from here on keeps it for the next attempt); a damaged
    // one cannot tell which files were the node's, so nothing runs until someone looks.
    retire_node_marker(project.state(), unit.name);
    const fs::path previous_path = project.state().previous_node_marker(unit.name);
    std::optional<Marker> previous;
    try {
        previous = read_marker(previous_path);
    } catch (const StateError& e) {
        throw StateError(std::string(e.what()) + ": steppar cannot tell which files node '" + node.name +
                         "' wrote last time, so it cannot retract those it no longer writes; check its output, then delete '" +
                         previous_path.string() + "' to run it anyway");
    }
    if (previous && previous->unit != unit.name) previous.reset();  // not this node's: says nothing
    Marker marker;
    marker.unit = unit.name;
    marker.pid = static_cast<long>(::getpid());
    marker.host = host_name();
    marker.outputs = node.outputs;
    // Made before the node reads anything: an input changed while it runs makes the next run
    // see a different fingerprint.
    std::string inputs;
    marker.fingerprint = whole_node_fingerprint(project, unit, &inputs);
    const fs::path inputs_path = project.state().node_inputs(unit.name, marker.fingerprint);
    write_file_atomically(inputs_path, inputs);  // for `why`: which input partitions change later
    {
        // Its definition's parts are kept, so that `why` can name what changed next time.
        DefinitionParts parts(project.state(), unit.name);
        std::string text = unit_definition_parts(project, unit, &marker.definition);
        parts.add(marker.definition, std::move(text));
        parts.remember_added();
    }
    const JsonFields params = JsonFields::of_node(pipeline, node);
    std::vector<std::string> written;
    Metrics metrics;
    StepLifecycle lifecycle(project, unit, unit.name, 0, 1);
    std::string failure;
    try {
        lifecycle.set_up();
        WholeCall call(pipeline, node, params, metrics);
        project.function(node).whole_function(call);
        call.commit();
        written = call.written();
    } catch (...) {
        failure = describe_failure(std::current_exception());
        if (failure.rfind("setup of plugin", 0) != 0) failure = "node '" + node.name + "' failed: " + failure;
    }
    // After a failure too, and before the marker: a failing teardown fails the node.
    if (const std::string error = lifecycle.tear_down(); !error.empty()) failure += (failure.empty() ? "" : "; ") + error;
    marker.metrics = metrics.values();
    if (StepTrace* trace = step_trace()) trace->set_counters(marker.metrics);
    if (!failure.empty()) {
        // What the last success wrote is still on disk: kept, so the next success retracts it.
        if (previous) marker.written = previous->written;
        marker.success = false;
        marker.message = failure;
        marker.seconds = seconds_since(started);
        write_marker(marker_path, marker);
        throw NodeError(marker.message);
    }
    for (const auto& path : written) {
        std::string stamp;
        append_stamp(stamp, stamp_of(path));
        marker.written[path] = stamp;
    }
    // Partitions it wrote last time and not now: retracted, unless someone changed them since.
    if (previous) {
        std::size_t removed = 0;
        for (const auto& [path, stamp] : previous->written) {
            if (marker.written.count(path)) continue;
            std::string now;
            append_stamp(now, stamp_of(path));
            if (now != stamp) continue;
            for (const auto& out : node.outputs) {
                const Dataset& d = pipeline.catalog().at(out);
                if (d.partitioned() && path.rfind(d.path.string() + "/", 0) == 0) {
                    remove_file_and_empty_folders(path, d.path);
                    ++removed;
                }
            }
        }
        if (removed) log(unit.name + ": retracted " + count_text(removed) + " partition file(s) it no longer writes");
    }
    reap_step_leftovers(unit.name);
    try {
        syncs.sync();
    } catch (const StateError& e) {
        throw NodeError("node '" + node.name + "': " + e.what() + "; its outputs may not be on disk, so no marker vouches for them: rerun once the filesystem is healthy");
    }
    log("node '" + node.name + "' done");
    marker.success = true;
    marker.seconds = seconds_since(started);
    write_marker(marker_path, marker);
    std::error_code ec;
    fs::remove(previous_path, ec);  // the new marker says all it said
    for (const auto& entry : fs::directory_iterator(inputs_path.parent_path(), ec))
        if (entry.path() != inputs_path) fs::remove(entry.path(), ec);  // listings no marker names
}

}  // namespace

void run_slice(Project& project, const Unit& unit, int slice) {
    const auto started = std::chrono::steady_clock::now();
    const Pipeline& pipeline = project.pipeline();
    const PlanIndex index = read_plan_index(project.state(), unit.name);
    const SlicePart part = read_slice_part(project.state(), unit.name, slice);  // only this slice's share
    const std::string label = step_label(unit, slice);

    Marker marker;
    marker.unit = unit.name;
    marker.slice = slice;
    marker.plan_id = part.plan_id;
    marker.generation = index.generation;
    marker.pid = static_cast<long>(::getpid());
    marker.host = host_name();
    for (const auto& n : unit.nodes) marker.outputs.insert(marker.outputs.end(), n.outputs.begin(), n.outputs.end());
    const fs::path marker_path = project.state().marker(unit.name, slice);
    std::error_code ec;
    fs::remove(marker_path, ec);  // a stale marker must never outlive a new attempt
    StepPlace place;
    place.slice = slice;
    place.slice_count = static_cast<int>(index.slice_sizes.size());
    StepLifecycle lifecycle(project, unit, label, slice, place.slice_count);
    // Its trace rows (step_trace.hpp), when a run traces this process: one clock read per
    // partition, its end being the next one's start.
    StepTrace* const trace = step_trace();
    std::int64_t partition_start = trace ? trace_clock() : 0;
    auto fail = [&](const std::string& partition, std::string message) {
        if (trace && !partition.empty()) trace->partition(partition, TraceStatus::failed, partition_start, trace_clock(), message);
        // Teardown runs after a failure too, before the marker; its own failure is added.
        if (const std::string error = lifecycle.tear_down(); !error.empty()) message += "; " + error;
        marker.success = false;
        marker.failed_partition = partition;
        marker.message = message;
        marker.metrics = place.metrics.values();
        if (trace) trace->set_counters(marker.metrics);
        marker.skipped = place.skipped;
        marker.seconds = seconds_since(started);
        write_marker(marker_path, marker);
        throw NodeError(label + (partition.empty() ? "" : " failed on partition '" + partition + "'") + ": " + message);
    };

    const std::string definition = unit_definition(project, unit);
    if (definition != index.definition)
        fail("", "the pipeline file, its params, a file input or a plugin changed since the plan was made; rerun to re-slice");

    std::vector<const Dataset*> inputs, outputs;
    for (const auto& in : index.inputs) inputs.push_back(&pipeline.catalog().at(in));
    for (const auto& out : marker.outputs) outputs.push_back(&pipeline.catalog().at(out));
    const fs::path segment = slice_segment(project.state(), unit.name, index.generation, slice);
    // Opened before anything is written: the sync at the end reports every failed write-back.
    std::vector<fs::path> written_folders = {segment.parent_path()};
    for (const auto* out : outputs) written_folders.push_back(out->path);
    FilesystemSync syncs(std::move(written_folders));
    std::set<std::string> finished;  // by an earlier attempt at this plan (a retry)
    for (const auto& line : read_segment(segment).lines)
        if (line.kind == 'R' || line.kind == 'V') finished.insert(line.name);
    LedgerAppender ledger(segment);

    std::deque<BoundNode> chain;
    for (const auto& n : unit.nodes) chain.emplace_back(project, n, place);
    std::vector<std::string> skipped_datasets;  // outputs skipped for the current partition (a chain's later nodes read them)
    PartitionDefinitions definitions(definition, pipeline.configurators(unit));
    const bool configured = pipeline.configurators(unit) != nullptr;
    std::map<std::string, std::size_t> configurator_use;
    std::vector<FileStamp> input_stamps(inputs.size()), output_stamps(outputs.size());
    std::vector<std::string> vanished;
    const std::string* last_definition = nullptr;
    std::uint32_t definition_number = 0;
    const auto& partitions = part.partitions;
    if (trace) trace->set_partitions(static_cast<long long>(partitions.size()));
    auto traced = [&](const std::string& partition, TraceStatus status, std::string_view why = {}) {
        const std::int64_t now = trace_clock();
        trace->partition(partition, status, partition_start, now, why);
        partition_start = now;
    };
    for (std::size_t index_in_slice = 0; index_in_slice < partitions.size(); ++index_in_slice) {
        const std::string& partition = partitions[index_in_slice];
        report_progress(index_in_slice, partitions.size());
        ++marker.partitions;
        if (!finished.empty() && finished.count(partition)) {
            if (trace) traced(partition, TraceStatus::skipped, "done by an earlier attempt");
            continue;
        }
        // The stamps its inputs have as they are read: a change during the call makes the next
        // run see the partition as changed.
        bool present = true;
        for (std::size_t k = 0; k < inputs.size(); ++k) {
            input_stamps[k] = stamp_of(inputs[k]->partition_path(partition));
            present = present && input_stamps[k].exists();
        }
        if (!present) {
            ledger.vanished(partition);
            vanished.push_back(partition);
            if (trace) traced(partition, TraceStatus::skipped, "its input vanished since slicing; left for the next run");
            continue;
        }
        Chosen chosen;
        std::optional<JsonFields> configuration;
        const std::string& wanted = definitions.of(partition, &chosen.configurator);
        if (configured) {
            chosen.fields = &configuration.emplace(JsonFields::of_configuration(chosen.configurator));
            chosen.name = chosen.configurator ? chosen.configurator->name : "";
            ++configurator_use[chosen.configurator ? "'" + chosen.name + "'" : "none"];
        }
        // Outputs are stamped by their writers right after the rename (no second lookup); the
        // chain's outputs follow its nodes' order, as marker.outputs does.
        try {
            lifecycle.set_up();  // before the first call, never for a slice with nothing to call
        } catch (const std::exception& e) {
            fail("", e.what());
        }
        FileStamp* stamps = output_stamps.data();
        skipped_datasets.clear();
        for (std::size_t k = 0; k < chain.size(); ++k) {
            const auto& outs = unit.nodes[k].outputs;
            const bool reads_skipped = std::any_of(unit.nodes[k].inputs.begin(), unit.nodes[k].inputs.end(), [&](const std::string& in) {
                return std::find(skipped_datasets.begin(), skipped_datasets.end(), in) != skipped_datasets.end();
            });
            if (reads_skipped) {
                skip_partition_outputs(chain[k], partition, stamps);
            } else if (const std::string error = call_partition_function(chain[k], partition, chosen, stamps); !error.empty()) {
                fail(partition, "node '" + unit.nodes[k].name + "': " + error);
            }
            if (chain.size() > 1)
                for (std::size_t o = 0; o < outs.size(); ++o)
                    if (!stamps[o].exists()) skipped_datasets.push_back(outs[o]);
            stamps += outs.size();
        }
        if (&wanted != last_definition) {
            definition_number = ledger.define(wanted);
            last_definition = &wanted;
        }
        ledger.record(partition, definition_number, input_stamps.data(), input_stamps.size(), output_stamps.data(), output_stamps.size());
        if (trace) traced(partition, TraceStatus::ok);
    }
    report_progress(partitions.size(), partitions.size());
    if (!vanished.empty()) {
        warn(label + ": " + count_text(vanished.size()) + " partition(s) vanished since slicing, left for the next run (" +
             join_first(vanished, 5) + ")");
    }
    if (!finished.empty()) log(label + ": " + count_text(finished.size()) + " partition(s) already done by an earlier attempt");
    if (!configurator_use.empty()) {
        std::vector<std::string> uses;
        for (const auto& [name, n] : configurator_use) uses.push_back("configurator " + name + " for " + std::to_string(n));
        log(label + ": " + join(uses));
    }
    if (const std::string error = lifecycle.tear_down(); !error.empty()) fail("", error);
    if (place.skipped) log(label + ": " + count_text(place.skipped) + " output partition(s) skipped by the node(s)");
    // Nothing the nodes started may go on writing once the marker vouches for the outputs.
    reap_step_leftovers(label);
    // Outputs and records reach the disk before the marker that vouches for them (one sync per
    // filesystem and slice, never one per partition). When they may not have, nothing of the
    // slice counts as done: no marker, and its records go, so the next run redoes it.
    try {
        syncs.sync();
    } catch (const StateError& e) {
        fs::remove(segment, ec);
        throw NodeError(label + ": " + e.what() + "; its outputs may not be on disk, so nothing vouches for them (no marker, its ledger records dropped): rerun once the filesystem is healthy");
    }
    marker.success = true;
    marker.metrics = place.metrics.values();
    marker.skipped = place.skipped;
    marker.seconds = seconds_since(started);
    if (trace) trace->set_counters(marker.metrics);
    write_marker(marker_path, marker);
}

void run_node(Project& project, const Unit& unit, const NodeRunOptions& options) {
    const Node& node = unit.nodes.front();
    if (project.function(node).kind == NodeKind::whole) {
        std::string why;
        if (!options.planned && !needs_run(project, unit, options.force, &why)) {
            log(unit.name + ": up to date, skipped");
            if (StepTrace* trace = step_trace()) trace->mark_up_to_date();
            return;
        }
        run_whole_node(project, unit);
        return;
    }
    // A partition function: a plan of one slice, its slice, its check.
    if (!options.planned) {
        const SlicePlan plan = run_slicer(project, unit, 1, {options.force, {}, options.adopt});
        if (!needs_run(project.state(), unit, part_of(plan, 0), options.force)) {
            log(unit.name + ": up to date, skipped");
            if (StepTrace* trace = step_trace()) trace->mark_up_to_date();
            check_barrier(project, unit);
            return;
        }
    }
    const auto started = std::chrono::steady_clock::now();
    run_slice(project, unit, 0);
    check_barrier(project, unit);
    char took[32];
    std::snprintf(took, sizeof took, "%.3f", seconds_since(started));
    log("node '" + node.name + "': done in " + took + " s");
}

std::string partition_in_progress(const Project& project, const Unit& unit, int slice) {
    try {
        const PlanIndex index = read_plan_index(project.state(), unit.name);
        const auto partitions = read_slice_part(project.state(), unit.name, slice).partitions;
        std::set<std::string> recorded;
        for (const auto& line : read_segment(slice_segment(project.state(), unit.name, index.generation, slice)).lines) recorded.insert(line.name);
        for (const auto& p : partitions)
            if (!recorded.count(p)) return p;
        return {};
    } catch (const std::exception&) {
        return {};
    }
}

}  // namespace steppar
