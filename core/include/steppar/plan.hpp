// The slice plan: written once by a multinode's slicer, read by every slice. It lists, for each
// slice, the exact partitions it owns, so slices never rescan the input. On disk it is split so
// that a slice reads only its own share, however many partitions the plan holds:
//
//   units/<u>/slices.json          the index, O(slices):
//     {"format": 2, "unit": "count", "plan_id": "<sha256>", "inputs": ["docs"],
//      "slice_count": 2, "partition_count": 3, "slices": [{"slice": 0, "partitions": 2}, ...]}
//   units/<u>/slices/slice-<i>.json  one slice's part:
//     {"format": 2, "unit": "count", "plan_id": "<sha256>", "slice": 0, "partitions": ["a", "b"]}
//
// The parts are written first and synced once, the index last and durably: an index always
// describes parts that are complete, and a part from an older plan is refused by its plan_id.
#pragma once

#include "steppar/state.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

/// A whole plan, as the slicer makes it and the host keeps it.
struct SlicePlan {
    static constexpr int format = 2;

    std::string unit;
    std::string plan_id;  ///< SHA-256 of unit, inputs and every slice's partitions
    std::vector<std::string> inputs;
    std::vector<std::vector<std::string>> slices;  ///< partition names per slice

    std::size_t partition_count() const;
};

/// The index: what the barrier and the slicer's "unchanged?" check need.
struct PlanIndex {
    std::string unit;
    std::string plan_id;
    std::vector<std::string> inputs;
    std::vector<std::size_t> slice_sizes;  ///< partitions per slice
};

/// One slice's share of a plan: what a slice process reads.
struct SlicePart {
    std::string unit;
    std::string plan_id;
    int slice = 0;
    std::vector<std::string> partitions;
};

/// Builds a plan by cutting `partitions` (in order) into `slice_count` slices.
SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, const std::vector<std::string>& partitions,
                    int slice_count);
/// Builds a plan from slices already cut (e.g. by size).
SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, std::vector<std::vector<std::string>> slices);
/// Slice `slice` of an in-memory plan (a copy of its partition names).
SlicePart part_of(const SlicePlan& plan, int slice);

std::string index_json(const SlicePlan& plan);
std::string part_json(const SlicePlan& plan, int slice);
/// The readers throw StateError naming `origin` when the text is not a valid index or part.
PlanIndex index_from_json(std::string_view text, const std::string& origin);
SlicePart part_from_json(std::string_view text, const std::string& origin);

/// Writes the parts, then the index (replacing any earlier plan of the unit).
void write_plan(const StateLayout& state, const SlicePlan& plan);
/// Throws StateError when the unit has no plan yet (or it is unreadable).
PlanIndex read_plan_index(const StateLayout& state, std::string_view unit);
/// Slice `slice`'s part of the current plan; throws UsageError when there is no such slice and
/// StateError when the part is missing, corrupt or from another plan.
SlicePart read_slice_part(const StateLayout& state, std::string_view unit, int slice);

}  // namespace steppar
