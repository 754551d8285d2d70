#include "steppar/barrier.hpp"

#include "steppar/error.hpp"
#include "steppar/expand.hpp"
#include "steppar/freshness.hpp"
#include "steppar/ledger.hpp"
#include "steppar/log.hpp"
#include "steppar/marker.hpp"
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
    PartitionDefinitions definitions(plan.definition, project.pipeline().configurators(unit));
    std::vector<std::string> problems, vanished;
    for (std::size_t i = 0; i < plan.slice_sizes.size(); ++i) {
        if (plan.slice_sizes[i] == 0) continue;  // nothing to do, nothing to vouch for
        const int slice = static_cast<int>(i);
        const std::string which = "slice " + std::to_string(i);
        std::optional<Marker> marker;
        try {
            marker = read_marker(project.state().marker(unit.name, slice));
        } catch (const StateError& e) {
            problems.push_back(which + ": " + e.what());
            continue;
        }
        if (!marker) {
            problems.push_back(which + ": no marker (the slice did not finish)");
            continue;
        }
        if (marker->unit != unit.name || marker->slice != slice || marker->plan_id != plan.plan_id) {
            problems.push_back(which + ": marker belongs to another plan (stale)");
            continue;
        }
        if (!marker->success) {
            problems.push_back(which + (marker->failed_partition.empty() ? "" : " failed on partition '" + marker->failed_partition + "'") +
                               ": " + marker->message);
            continue;
        }
        // The slice's own records: every partition of its part, for this plan's generation.
        std::map<std::string, const SegmentLine*> lines;
        const auto segment = read_segment(slice_segment(project.state(), unit.name, plan.generation, slice));
        for (const auto& line : segment) lines[line.name] = &line;
        const SlicePart part = read_slice_part(project.state(), unit.name, slice);
        std::vector<std::string> unrecorded;
        for (const auto& p : part.partitions) {
            const auto it = lines.find(p);
            if (it == lines.end() || (it->second->kind == 'R' && it->second->definition != definitions.of(p)))
                unrecorded.push_back(p);
            else if (it->second->kind == 'V')
                vanished.push_back(p);
        }
        if (!unrecorded.empty() || marker->partitions != part.partitions.size()) {
            std::vector<std::string> shown(unrecorded.begin(), unrecorded.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(unrecorded.size(), 3)));
            problems.push_back(which + ": " + std::to_string(unrecorded.size()) + " partition(s) of its plan have no ledger record (" +
                               join(shown) + (unrecorded.size() > shown.size() ? ", ..." : "") + ")");
        }
    }
    if (!problems.empty())
        throw NodeError(name + ": " + std::to_string(problems.size()) + " of " + std::to_string(plan.slice_sizes.size()) +
                        " slice(s) did not succeed: " + join(problems, "; "));
    if (!vanished.empty())
        warn(name + ": " + count_text(vanished.size()) + " partition(s) vanished during the run and were not made (" +
             join(std::vector<std::string>(vanished.begin(), vanished.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(vanished.size(), 5)))) + ")");
    const Ledger ledger = Ledger::load(project.state(), unit.name);
    if (ledger.fold_is_due()) ledger.fold(project.state(), unit.name);
    if (unit.replicated()) {
        std::size_t ran = 0;
        for (const auto size : plan.slice_sizes) ran += size > 0;
        log(name + ": " + (ran ? "all " + std::to_string(ran) + " slice(s) with work done" : std::string("nothing to run")));
    }
}

}  // namespace steppar
