#include "steppar/planning.hpp"

#include "steppar/error.hpp"
#include "steppar/expand.hpp"
#include "steppar/files.hpp"
#include "steppar/interruption.hpp"
#include "steppar/ledger.hpp"
#include "steppar/log.hpp"
#include "steppar/slicer.hpp"
#include "steppar/temporary_files.hpp"
#include "steppar/text.hpp"
#include "steppar/trace.hpp"

#include <algorithm>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

void create_output_folders(const Pipeline& pipeline, const Unit& unit) {
    for (const auto& n : unit.nodes)
        for (const auto& out : n.outputs) {
            const Dataset& d = pipeline.catalog().at(out);
            std::error_code ec;
            fs::create_directories(d.partitioned() ? d.path : d.path.parent_path(), ec);
            if (ec) throw StateError("cannot create output folder for '" + out + "': " + ec.message());
        }
}

// The slicer's own name in messages; a plain node's plan is made without a slicer step.
std::string who_slices(const Unit& unit) { return unit.replicated() ? slicer_name(unit.name) : unit.name; }

// A row of what the slicer found, for the run's trace (trace.hpp) when one is kept: under the
// slicer's step, or the plain node's own.
void trace_finding(const Unit& unit, TraceScope scope, const std::string& partition, long long partitions, TraceStatus status,
                   std::int64_t start_us, std::int64_t end_us, std::string message = {}) {
    TraceLog* const trace = trace_log();
    if (!trace) return;
    TraceRow row;
    row.step = who_slices(unit);
    row.kind = unit.replicated() ? StepKind::slicer : StepKind::node;
    row.unit = unit.name;
    row.scope = scope;
    row.partition = partition;
    row.partitions = partitions;
    row.status = status;
    row.start_us = start_us;
    row.end_us = end_us;
    row.message = std::move(message);
    trace->add(std::move(row));
}

// balance: size. Each dirty partition weighs the bytes of its input files.
std::vector<std::vector<std::string>> cut_by_size(const Unit& unit, const Assessment& a, int slice_count) {
    std::vector<std::vector<std::string>> slices;
    std::uint64_t lightest = UINT64_MAX, heaviest = 0;
    for (const auto& group : slice_by_size(a.dirty_bytes, slice_count)) {
        std::uint64_t bytes = 0;
        auto& names = slices.emplace_back();
        for (const std::size_t i : group) {
            names.push_back(a.dirty[i]);
            bytes += a.dirty_bytes[i];
        }
        lightest = std::min(lightest, bytes);
        heaviest = std::max(heaviest, bytes);
    }
    if (!a.dirty.empty())
        log(who_slices(unit) + ": balanced by size, " + bytes_text(lightest) +
            (lightest == heaviest ? "" : ".." + bytes_text(heaviest)) + " of input per slice");
    return slices;
}

std::string slicer_log_line(const Unit& unit, const SlicePlan& plan) {
    if (plan.partition_count() == 0) return who_slices(unit) + ": nothing to run";
    std::size_t smallest = plan.slices.front().size(), largest = 0;
    for (const auto& s : plan.slices) {
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
    }
    if (!unit.replicated()) return who_slices(unit) + ": " + count_text(plan.partition_count()) + " partition(s) of " + join(plan.inputs) + " to run";
    return who_slices(unit) + ": " + count_text(plan.partition_count()) + " partition(s) of " + join(plan.inputs) +
           " to run in " + std::to_string(plan.slices.size()) + " slices (" + std::to_string(smallest) +
           (smallest == largest ? "" : ".." + std::to_string(largest)) + " each)";
}

// Retraction: the outputs steppar wrote for partitions whose input is gone, so nothing
// downstream ever sees them. A file changed since steppar wrote it is kept (and named).
void retract(Project& project, const Unit& unit, const Assessment& a, LedgerAppender& host) {
    if (a.retract.empty()) return;
    std::vector<const Dataset*> outputs;
    for (const auto& name : a.outputs) outputs.push_back(&project.pipeline().catalog().at(name));
    std::vector<std::string> names, kept, failures;
    std::vector<FileStamp> recorded;
    for (const auto& [name, text] : a.retract) {
        interruption_point();  // what was removed is recorded as retracted; the rest is left for the rerun
        const std::int64_t began = trace_log() ? trace_clock() : 0;
        const bool parsed = parse_stamps(text, recorded, outputs.size());
        bool removed_all = true;
        for (std::size_t k = 0; k < outputs.size(); ++k) {
            // Another producer of this output writes the partition now: the file is theirs.
            if (std::binary_search(a.claimed[k].begin(), a.claimed[k].end(), name)) continue;
            const std::string path = outputs[k]->partition_path(name);
            const FileStamp now = stamp_of(path);
            if (!now.exists()) continue;
            if (!parsed || !(now == recorded[k])) {
                kept.push_back(path);
                continue;
            }
            try {
                remove_file_and_empty_folders(path, outputs[k]->path);
            } catch (const StateError& e) {
                // Not retracted: its record stays, so the next run tries again.
                failures.push_back(e.what());
                removed_all = false;
            }
        }
        if (!removed_all) continue;
        host.retracted(name);
        names.push_back(name);
        if (trace_log()) trace_finding(unit, TraceScope::partition, name, 1, TraceStatus::retracted, began, trace_clock(), "its input is gone");
    }
    std::vector<std::string> catalog_outputs;
    for (const auto* d : outputs)
        if (!d->intermediate) catalog_outputs.push_back(d->name);
    if (!names.empty())
        log(unit.name + ": retracted " + count_text(names.size()) + " partition(s) of " +
            join(catalog_outputs.empty() ? a.outputs : catalog_outputs) + " (" + join_first(names, 5) + "): their input is gone");
    if (!kept.empty())
        warn(unit.name + ": kept " + count_text(kept.size()) + " output file(s) of retracted partitions because they changed since steppar wrote them: " +
             join_first(kept, 5));
    // Nothing downstream may read an output whose input is gone: the unit fails.
    if (!failures.empty())
        throw StateError(unit.name + ": " + count_text(failures.size()) + " output file(s) of partitions whose input is gone could not be removed (" +
                         join_first(failures, 3) + "); they stay recorded and the next run tries again: fix the cause and rerun");
}

}  // namespace

namespace {

// Every output file of a partition about to run must be nameable: a name longer than a file name
// may be (255 bytes) would fail at its write, after other partitions were made. An output's
// suffix longer than the input's, or the ".d" a multipipeline's intermediate folders get, can
// make it so.
void check_output_names(const Pipeline& pipeline, const Unit& unit, const std::vector<std::string>& names) {
    constexpr std::size_t longest = 255;  // NAME_MAX
    for (const auto& node : unit.nodes)
        for (const auto& out : node.outputs) {
            const Dataset& d = pipeline.catalog().at(out);
            if (!d.partitioned()) continue;
            for (const auto& name : names)
                for (std::size_t start = 0;;) {
                    const auto slash = name.find('/', start);
                    const bool last = slash == std::string::npos;
                    const std::size_t bytes = (last ? name.size() : slash) - start + (last ? d.suffix.size() : d.folder_suffix.size());
                    if (bytes > longest)
                        throw InputError("'" + unit.name + "': partition '" + name + "' would be written to dataset '" + out + "' as a " +
                                         (last ? "file" : "folder") + " name of " + std::to_string(bytes) +
                                         " bytes, more than the 255 a name may hold (suffix '" + (last ? d.suffix : d.folder_suffix) +
                                         "'); shorten that input's name or the output's suffix");
                    if (last) break;
                    start = slash + 1;
                }
        }
}

}  // namespace

PlannedUnit plan_unit(Project& project, const Unit& unit, int slice_count, const SlicerOptions& options) {
    PlannedUnit planned;
    planned.assessment = assess(project, unit, {options.force, options.only, options.adopt});
    check_output_names(project.pipeline(), unit, planned.assessment.dirty);
    const Assessment& a = planned.assessment;
    SlicePlan& plan = planned.plan;
    plan = unit.options.balance == Balance::size ? make_plan(unit.name, a.inputs, cut_by_size(unit, a, slice_count))
                                                 : make_plan(unit.name, a.inputs, a.dirty, slice_count);
    plan.generation = a.ledger->generation() + 1;
    try {
        plan.generation = std::max(plan.generation, read_plan_index(project.state(), unit.name).generation + 1);
    } catch (const StateError&) {
        // no plan yet, or a damaged one: the ledger's count stands
    }
    plan.definition = a.definition;
    plan.summary = {a.new_count, a.changed_count, a.up_to_date, a.retract.size()};
    plan.plan_id = plan_identity(plan);
    return planned;
}

SlicePlan run_slicer(Project& project, const Unit& unit, int slice_count, const SlicerOptions& options) {
    const std::int64_t began = trace_log() ? trace_clock() : 0;
    PlannedUnit planned = plan_unit(project, unit, slice_count, options);  // may refuse: nothing made yet
    // What is up to date is one row with its count: listing a million partitions where nothing
    // happened would cost the trace more than the run.
    if (trace_log() && planned.assessment.up_to_date > 0)
        trace_finding(unit, TraceScope::partitions, {}, static_cast<long long>(planned.assessment.up_to_date), TraceStatus::up_to_date,
                      began, trace_clock());
    create_output_folders(project.pipeline(), unit);
    const Assessment& a = planned.assessment;
    SlicePlan& plan = planned.plan;
    if (!a.damaged.empty()) warn(a.damaged);
    std::size_t swept = 0;
    for (const auto& path : a.temporaries) swept += remove_if_stale_temporary(path);
    if (swept) log(unit.name + ": removed " + count_text(swept) + " temporary file(s) left by interrupted writers");
    log(unit.name + ": " + summary(a));
    // Why, only for what runs or goes (reasons for what stays would flood the log).
    if (!a.dirty.empty() || !a.retract.empty()) log(unit.name + ": why: " + reasons_text(reason_counts(a, 3)));
    a.definition_parts->remember_added();  // so that later runs and `why` can name what changed
    if (!a.foreign.empty())
        warn(unit.name + ": " + count_text(a.foreign.size()) + " file(s) in its output folders that steppar did not write (kept, and read by what reads the folder): " +
             join_first(a.foreign, 5));
    if (!a.future_outputs.empty())
        warn(unit.name + ": " + count_text(a.future_outputs.size()) +
             " partition(s) not adopted (--only-missing): an output's modification time lies in the future (set by hand, or a clock "
             "running ahead), so it cannot show that the output is newer than its inputs; made again (" + join_first(a.future_outputs, 5) + ")");
    if (a.ledger->segment_files() > 64) a.ledger->fold(project.state(), unit.name);  // many runs without a barrier

    // Retractions and adoptions go into the ledger first, under this plan's generation.
    if (!a.retract.empty() || !a.adopt.empty()) {
        LedgerAppender host(host_segment(project.state(), unit.name, plan.generation));
        retract(project, unit, a, host);
        PartitionDefinitions definitions(a.definition, project.pipeline().configurators(unit));
        for (const auto& adopted : a.adopt) {
            const std::int64_t adopting = trace_log() ? trace_clock() : 0;
            host.record(adopted.name, host.define(definitions.of(adopted.name)), adopted.inputs.data(), adopted.inputs.size(),
                        adopted.outputs.data(), adopted.outputs.size());
            if (trace_log())
                trace_finding(unit, TraceScope::partition, adopted.name, 1, TraceStatus::ok, adopting, trace_clock(),
                              "adopted (--only-missing): recorded without running");
        }
        if (!a.adopt.empty())
            log(unit.name + ": " + count_text(a.adopt.size()) + " partition(s) adopted without running (--only-missing: outputs newer than inputs)");
    }
    // A new plan: markers of the old one must never vouch for it.
    std::error_code ec;
    fs::remove_all(project.state().markers_dir(unit.name), ec);
    write_plan(project.state(), plan);
    log(slicer_log_line(unit, plan));
    return std::move(plan);
}

}  // namespace steppar
