#include "steppar/barrier.hpp"

#include "steppar/error.hpp"
#include "steppar/expand.hpp"
#include "steppar/freshness.hpp"
#include "steppar/interruption.hpp"
#include "steppar/stamp.hpp"
#include "steppar/ledger.hpp"
#include "steppar/log.hpp"
#include "steppar/vouching.hpp"
#include "steppar/plan.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <map>

namespace steppar {

void check_barrier(Project& project, const Unit& unit) {
    const PlanIndex plan = read_plan_index(project.state(), unit.name);
    const std::string name = unit.replicated() ? barrier_name(unit.name) : unit.name;
    if (unit_definition(project, unit) != plan.definition)
        throw NodeError(name + ": the pipeline file, its params, a file input or a plugin changed since '" + unit.name +
                        "' was sliced; rerun to re-slice");
    std::vector<std::string> problems;
    std::vector<std::pair<int, std::vector<std::string>>> parts;  // slice, its partitions
    for (std::size_t i = 0; i < plan.slice_sizes.size(); ++i) {
        if (plan.slice_sizes[i] == 0) continue;  // nothing to do, nothing to vouch for
        const int slice = static_cast<int>(i);
        const std::string which = "slice " + std::to_string(i);
        const MarkerReading reading = read_step_marker(project.state(), {unit.name, slice, plan.plan_id});
        switch (reading.verdict) {
        case MarkerVerdict::missing: problems.push_back(which + ": no marker (the slice did not finish)"); break;
        case MarkerVerdict::damaged: problems.push_back(which + ": " + reading.damage); break;
        case MarkerVerdict::foreign: problems.push_back(which + ": its marker belongs to another unit, slice or plan (stale)"); break;
        case MarkerVerdict::failed: problems.push_back(which + reading.failure()); break;
        case MarkerVerdict::vouches: parts.emplace_back(slice, read_slice_part(project.state(), unit.name, slice).partitions); break;
        }
    }
    if (!problems.empty())
        throw NodeError(name + ": " + std::to_string(problems.size()) + " of " + std::to_string(plan.slice_sizes.size()) +
                        " slice(s) did not succeed: " + join(problems, "; "));

    // The ledger must hold, for every planned partition, a record of this plan's generation made
    // with the partition's definition: a marker alone never vouches for outputs. The slices'
    // segments of this generation usually answer; the whole ledger is read only for the rest
    // (after a fold, or a retry that wrote into another file).
    PartitionDefinitions definitions(plan.definition, project.pipeline().configurators(unit));
    const bool configured = project.pipeline().configurators(unit) != nullptr;
    std::vector<std::pair<std::string, int>> rest;
    std::vector<std::string> vanished;
    for (auto& [slice, part] : parts) {
        const Segment segment = read_segment(slice_segment(project.state(), unit.name, plan.generation, slice));
        std::vector<char> right(segment.definitions.size());  // without configurators: one answer per digest
        for (std::size_t d = 0; d < right.size(); ++d) right[d] = segment.definitions[d] == plan.definition;
        // A slice appends in the order of its part: walk both together. Lines out of that order
        // (a retry) are looked up in a map.
        std::map<std::string_view, const SegmentLine*> others;
        std::size_t at = 0;
        auto judge = [&](const std::string& partition, const SegmentLine& line) {
            if (line.kind == 'V') {
                vanished.push_back(partition);
                return true;
            }
            return line.kind == 'R' && (configured ? segment.definitions[line.definition] == definitions.of(partition) : right[line.definition] != 0);
        };
        for (auto& partition : part) {
            interruption_point();
            while (at < segment.lines.size() && segment.lines[at].name != partition) {
                others.emplace(segment.lines[at].name, &segment.lines[at]);
                ++at;
            }
            bool ok = false;
            if (at < segment.lines.size()) ok = judge(partition, segment.lines[at++]);
            else if (const auto it = others.find(partition); it != others.end()) ok = judge(partition, *it->second);
            if (!ok) rest.emplace_back(std::move(partition), slice);
        }
    }
    std::sort(rest.begin(), rest.end());
    std::vector<const Dataset*> inputs;
    for (const auto& in : plan.inputs) inputs.push_back(&project.pipeline().catalog().at(in));
    std::map<int, std::vector<std::string>> unrecorded;
    if (!rest.empty()) {
        const Ledger ledger = Ledger::load(project.state(), unit.name);
        const bool walk = rest.size() * 32 >= ledger.size();  // few partitions: binary searches
        std::size_t at = 0;
        for (const auto& [partition, slice] : rest) {
            interruption_point();
            std::size_t i = ledger.size();
            if (walk) {
                while (at < ledger.size() && ledger.entry(at).name < partition) ++at;
                i = at;
            } else {
                i = ledger.find(partition);
            }
            if (i < ledger.size()) {
                const LedgerEntry e = ledger.entry(i);
                if (e.name == partition && e.generation == plan.generation && e.definition < ledger.definitions().size() &&
                    ledger.definitions()[e.definition] == definitions.of(partition))
                    continue;
            }
            bool gone = false;  // its input disappeared after slicing: left for the next run
            for (const auto* d : inputs) gone = gone || !stamp_of(d->partition_path(partition)).exists();
            (gone ? vanished : unrecorded[slice]).push_back(partition);
        }
    }
    for (const auto& [slice, names] : unrecorded) {
        problems.push_back("slice " + std::to_string(slice) + ": " + std::to_string(names.size()) +
                           " partition(s) of its plan have no ledger record of this run (" + join_first(names, 3) + ")");
    }
    if (!problems.empty())
        throw NodeError(name + ": " + std::to_string(problems.size()) + " of " + std::to_string(plan.slice_sizes.size()) +
                        " slice(s) did not succeed: " + join(problems, "; ") + "; rerun to redo them");
    if (!vanished.empty())
        warn(name + ": " + count_text(vanished.size()) + " partition(s) vanished during the run and were not made (" +
             join(std::vector<std::string>(vanished.begin(), vanished.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(vanished.size(), 5)))) + ")");
    if (Ledger::fold_is_due_on_disk(project.state(), unit.name)) Ledger::load(project.state(), unit.name).fold(project.state(), unit.name);
    if (unit.replicated()) {
        std::size_t ran = 0;
        for (const auto size : plan.slice_sizes) ran += size > 0;
        log(name + ": " + (ran ? "all " + std::to_string(ran) + " slice(s) with work done" : std::string("nothing to run")));
    }
}

}  // namespace steppar
